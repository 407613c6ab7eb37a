import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';

export interface RejectionLogOptions {
  logger: Logger;
  clock: Clock;
  /** Counted rejections are summarised once per this many ms. */
  intervalMs?: number;
  /** (device, reason) pairs remembered at once, least recently active dropped first. Bounds memory. */
  maxTracked?: number;
  /** A pair quiet for this long is forgotten: its next rejection is logged in full again. */
  forgetAfterMs?: number;
  /** Rejections logged in full per interval, at most; past it they are counted like repeats. */
  fullLinesPerInterval?: number;
  /** Pairs summarised on a line of their own per interval (the busiest, if rejected more than once); the rest share one line. */
  summaryLinesPerInterval?: number;
}

/** One rejected message: who, why, and the full line's message and extra fields. */
export interface Rejection {
  device: string;
  tenant: string;
  reason: string;
  msg: string;
  fields?: Record<string, unknown>;
}

interface Pair {
  device: string;
  tenant: string;
  reason: string;
  lastSeen: number;
  /** Rejections counted, not logged, in this interval. */
  more: number;
  /** Whether one of its rejections was logged in full (the budget may have put it off). */
  shown: boolean;
}

export const REJECTION_DEFAULTS = {
  intervalMs: 60_000, // SKJOLD_LOG_REJECTIONS_PER_MINUTE counts full lines per this interval
  maxTracked: 10_000,
  forgetAfterMs: 10 * 60_000,
  fullLinesPerInterval: 5,
  summaryLinesPerInterval: 3,
};

/** The timer looks this often per interval whether one is over, so a summary is at most this late. */
const TICKS_PER_INTERVAL = 6;

const messages = (n: number) => `${n} more message${n === 1 ? '' : 's'}`;

/**
 * The log side of rejections (SPEC: "a clear, counted rejection"). A device
 * that keeps sending bad messages, or a fleet whose devices each send a few,
 * would otherwise write a warning per message and bury everything else. The
 * first rejection of a (device pseudonym, reason) is logged in full; repeats
 * are counted, and once per interval the busiest pairs get a summary line
 * each and the rest one line together. Lines per interval are bounded
 * whatever the fleet does; every rejection is in exactly one line's count.
 * The counters in /metrics are the caller's and still see every rejection.
 */
export function createRejectionLog(options: RejectionLogOptions) {
  const { logger, clock } = options;
  const o = { ...REJECTION_DEFAULTS, ...options };
  // Map order is least recently active first: eviction takes the first entry.
  const pairs = new Map<string, Pair>();
  // Counts of pairs evicted mid-interval (past maxTracked), so no rejection goes uncounted.
  const evicted = { pairs: 0, byReason: new Map<string, number>() };
  let windowStart = clock().getTime();
  let fullLines = 0;
  let timer: NodeJS.Timeout | undefined;

  function evictOldest(): void {
    const [key, p] = pairs.entries().next().value ?? [];
    if (key === undefined || p === undefined) return;
    pairs.delete(key);
    if (p.more === 0) return;
    evicted.pairs++;
    evicted.byReason.set(p.reason, (evicted.byReason.get(p.reason) ?? 0) + p.more);
  }

  /** Summarises the interval that ends at `at` and starts the next. */
  function flush(at: number): void {
    const seconds = Math.max(1, Math.round((at - windowStart) / 1000));
    const since = new Date(windowStart).toISOString();
    const counted = [...pairs.values()].filter((p) => p.more > 0).sort((a, b) => b.more - a.more);
    // A line of its own only for a device that kept at it; one-offs are only worth a count.
    const own = counted.filter((p) => p.more > 1).slice(0, o.summaryLinesPerInterval);
    for (const p of own) {
      logger.warn(
        { device: p.device, tenant: p.tenant, reason: p.reason, rejected: p.more, since, seconds },
        `device ${p.device}: ${messages(p.more)} rejected (${p.reason}) in the last ${seconds} s`,
      );
    }
    const rest = counted.slice(own.length);
    const byReason = new Map(evicted.byReason);
    for (const p of rest) byReason.set(p.reason, (byReason.get(p.reason) ?? 0) + p.more);
    const total = [...byReason.values()].reduce((a, b) => a + b, 0);
    if (total > 0) {
      const devices = new Set(rest.map((p) => p.device)).size + evicted.pairs;
      const reasons = Object.fromEntries([...byReason].sort(([a], [b]) => a.localeCompare(b)));
      logger.warn(
        { rejected: total, reasons, devices, since, seconds },
        `${messages(total)} rejected (${Object.entries(reasons)
          .map(([r, n]) => `${r} ${n}`)
          .join(', ')}) from ${devices} other device${devices === 1 ? '' : 's'} in the last ${seconds} s`,
      );
    }
    evicted.pairs = 0;
    evicted.byReason.clear();
    for (const [key, p] of pairs) {
      p.more = 0;
      if (at - p.lastSeen >= o.forgetAfterMs) pairs.delete(key);
    }
    windowStart = at;
    fullLines = 0;
    if (pairs.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  /** Ends the interval if it is over: on each rejection and on the timer's ticks. */
  function due(): void {
    const at = clock().getTime();
    if (at - windowStart >= o.intervalMs) flush(at);
  }

  return {
    rejected(r: Rejection): void {
      due();
      const at = clock().getTime();
      const key = `${r.device}\u0000${r.reason}`;
      const known = pairs.get(key);
      if (known) {
        // Most recently active last: eviction takes the first entry.
        pairs.delete(key);
        pairs.set(key, known);
      } else if (pairs.size >= o.maxTracked) evictOldest();
      const pair = known ?? {
        device: r.device,
        tenant: r.tenant,
        reason: r.reason,
        lastSeen: at,
        more: 0,
        shown: false,
      };
      pair.lastSeen = at;
      if (!known) pairs.set(key, pair);
      // Every pair gets one rejection in full, as soon as an interval's budget allows.
      if (!pair.shown && fullLines < o.fullLinesPerInterval) {
        pair.shown = true;
        fullLines++;
        logger.warn({ ...r.fields, device: r.device, tenant: r.tenant, reason: r.reason }, r.msg);
      } else pair.more++;
      // Summaries come out on time even when the devices go quiet; unref: it never keeps the process up.
      timer ??= setInterval(due, o.intervalMs / TICKS_PER_INTERVAL).unref();
    },

    /** Ends the interval now if it is over; the timer does this by itself. */
    flush: due,

    /** (device, reason) pairs remembered now. */
    tracked: () => pairs.size,

    /** Summarises whatever is counted (at shutdown), forgets everything and stops the timer. */
    close(): void {
      flush(clock().getTime());
      pairs.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type RejectionLog = ReturnType<typeof createRejectionLog>;
