import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';

const HOUR = 3_600_000;
// setTimeout holds at most 2^31 − 1 ms; longer waits are taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The next time at `hourUtc`:00 UTC strictly after `now`. */
export function nextRunAt(now: Date, hourUtc: number): Date {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hourUtc);
  return new Date(today > now.getTime() ? today : today + 24 * HOUR);
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Runs retention once a day at `hourUtc` inside `skjold start`. A run that
 * fails is tried again an hour later: finished steps are recorded, so the
 * retry resumes where the failed run stopped.
 */
export function createRetentionSchedule(options: {
  hourUtc: number;
  clock: Clock;
  run: () => Promise<unknown>;
  logger: Logger;
  timers?: Timers;
}) {
  const timers = options.timers ?? realTimers;
  let handle: unknown;
  let stopped = true;
  let current: Promise<void> = Promise.resolve();

  function schedule(at: Date): void {
    if (stopped) return;
    const wait = Math.max(0, at.getTime() - options.clock().getTime());
    handle = timers.set(
      () => {
        if (wait > MAX_TIMER_MS) return schedule(at);
        current = fire();
      },
      Math.min(wait, MAX_TIMER_MS),
    );
  }

  async function fire(): Promise<void> {
    try {
      await options.run();
      schedule(nextRunAt(options.clock(), options.hourUtc));
    } catch (err) {
      options.logger.error({ err }, 'scheduled retention run failed; retrying in an hour');
      schedule(new Date(options.clock().getTime() + HOUR));
    }
  }

  return {
    start(): void {
      stopped = false;
      const at = nextRunAt(options.clock(), options.hourUtc);
      options.logger.info({ next: at.toISOString() }, 'retention scheduled daily');
      schedule(at);
    },
    /** Stops the schedule and waits for a run in progress. */
    async stop(): Promise<void> {
      stopped = true;
      timers.clear(handle);
      await current;
    },
  };
}
