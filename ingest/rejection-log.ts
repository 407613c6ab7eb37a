import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';

export interface RejectionLogOptions {
  logger: Logger;
  clock: Clock;
  /** A (device, reason) gets at most one summary line per this many ms. */
  intervalMs?: number;
  /** (device, reason) pairs followed at once; rejections beyond are summed per reason. Bounds memory. */
  maxTracked?: number;
}

/** One rejected message: who, why, and the first line's message and extra fields. */
export interface Rejection {
  device: string;
  tenant: string;
  reason: string;
  msg: string;
  fields?: Record<string, unknown>;
}

interface Window {
  since: number;
  /** Rejections counted, not logged, since `since`. */
  more: number;
}

interface Tracked extends Window {
  device: string;
  tenant: string;
  reason: string;
}

export const REJECTION_SUMMARY_MS = 60_000;
export const REJECTION_MAX_TRACKED = 10_000;

/**
 * The log side of rejections (SPEC: "a clear, counted rejection"). A device
 * that keeps sending bad messages would otherwise write one warning per
 * message: the first rejection of a (device pseudonym, reason) is logged in
 * full, the rest are counted and summarised at most once per interval. The
 * counters in /metrics are the caller's and still see every rejection.
 * Devices are named by pseudonym only, here as everywhere in the logs.
 */
export function createRejectionLog(options: RejectionLogOptions) {
  const { logger, clock } = options;
  const intervalMs = options.intervalMs ?? REJECTION_SUMMARY_MS;
  const maxTracked = options.maxTracked ?? REJECTION_MAX_TRACKED;
  const tracked = new Map<string, Tracked>();
  // Past maxTracked pairs: one counter per reason, and reasons are a fixed, short list.
  const untracked = new Map<string, Window>();
  let timer: NodeJS.Timeout | undefined;

  const now = () => clock().getTime();
  const seconds = (w: Window, at: number) => Math.max(1, Math.round((at - w.since) / 1000));

  function summarise(t: Tracked, at: number): void {
    const s = seconds(t, at);
    logger.warn(
      { device: t.device, tenant: t.tenant, reason: t.reason, rejected: t.more, seconds: s },
      `device ${t.device}: ${t.more} more message${t.more === 1 ? '' : 's'} rejected (${t.reason}) in the last ${s} s`,
    );
  }

  function summariseUntracked(reason: string, w: Window, at: number): void {
    const s = seconds(w, at);
    logger.warn(
      { reason, rejected: w.more, seconds: s, devicesFollowed: maxTracked },
      `${w.more} more message${w.more === 1 ? '' : 's'} rejected (${reason}) in the last ${s} s from devices beyond the ${maxTracked} followed`,
    );
  }

  /** Summarises every window that is over (or, with `all`, every window) and forgets the quiet ones. */
  function flush(all = false): void {
    const at = now();
    for (const [key, t] of tracked) {
      if (!all && at - t.since < intervalMs) continue;
      if (t.more > 0) summarise(t, at);
      // A device still misbehaving keeps its entry, so its next messages are counted, not logged again.
      if (t.more > 0 && !all) {
        t.since = at;
        t.more = 0;
      } else tracked.delete(key);
    }
    for (const [reason, w] of untracked) {
      if (!all && at - w.since < intervalMs) continue;
      summariseUntracked(reason, w, at);
      untracked.delete(reason);
    }
    if (tracked.size === 0 && untracked.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  return {
    rejected(r: Rejection): void {
      const at = now();
      const key = `${r.device}\u0000${r.reason}`;
      const t = tracked.get(key);
      if (t && at - t.since >= intervalMs) {
        if (t.more > 0) {
          summarise(t, at);
          t.since = at;
          t.more = 1;
          return;
        }
        tracked.delete(key);
      } else if (t) {
        t.more++;
        return;
      }
      if (tracked.size >= maxTracked) {
        const w = untracked.get(r.reason) ?? { since: at, more: 0 };
        w.more++;
        untracked.set(r.reason, w);
      } else {
        logger.warn({ ...r.fields, device: r.device, tenant: r.tenant, reason: r.reason }, r.msg);
        tracked.set(key, { device: r.device, tenant: r.tenant, reason: r.reason, since: at, more: 0 });
      }
      // Summaries of devices that went quiet still come out; unref: it never keeps the process up.
      timer ??= setInterval(() => flush(), intervalMs).unref();
    },

    /** Summarises the windows that are over; runs by itself every interval while anything is counted. */
    flush: () => flush(false),

    /** (device, reason) pairs followed now. */
    tracked: () => tracked.size,

    /** Summarises whatever is still counted (at shutdown) and stops the timer. */
    close(): void {
      flush(true);
    },
  };
}

export type RejectionLog = ReturnType<typeof createRejectionLog>;
