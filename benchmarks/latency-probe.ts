/**
 * Publish-to-queryable latency: polls InfluxDB for the points of a few
 * sampled devices and records when each (device, seq) is first returned.
 * Kept cheap so it does not distort what it measures: one query per poll for
 * all sampled devices (tag filter, indexed), over a time window that starts
 * at the oldest point not yet seen — so each poll returns roughly the points
 * written since the previous one, not the whole step. A long run reads it in
 * parts (`take`): what was handed over is forgotten, so its maps stay small.
 */
import { quoteIdentifier, quoteString } from '../store/influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';

export interface ProbeTarget {
  login: string;
  tenantId: string;
  measurement: string;
  pseudonym: string;
}

export interface ProbeStats {
  polls: number;
  rows: number;
  queryMsAvg: number;
  queryMsMax: number;
  errors: number;
  /** Mean ± bound on each visibility time: half the span from the previous poll's start to this answer. */
  resolutionMs: number;
}

export interface Probe {
  /** Waits until every seq in `expected` (per login) has been seen, or `timeoutMs`; then stops. */
  finish(expected: Record<string, Iterable<number>>, timeoutMs: number): Promise<void>;
  /**
   * Waits as `finish` does but goes on polling; hands over when each expected seq was seen
   * (per login: seq → epoch ms, the unseen ones absent) and forgets every seq up to the highest
   * one expected: one seen later counts as never seen.
   */
  take(
    expected: Record<string, Iterable<number>>,
    timeoutMs: number,
  ): Promise<Map<string, Map<number, number>>>;
  /** Per login: seq → epoch ms of the first poll that returned it. */
  seen: Map<string, Map<number, number>>;
  stats: ProbeStats;
}

// A point that becomes queryable later than this after its successors is not waited for: it
// counts as never seen (the step fails on it), and the window stays cheap to query.
const MAX_WINDOW_MS = 3_000;
// A seq still missing this long after a later one of its device appeared is passed over: it was
// overwritten (ts-collisions.ts) or lost, and waiting for it would widen every later query.
const SKIP_AFTER_MS = 1_000;

interface Front {
  /** Oldest seq not yet seen (or passed over). */
  next: number;
  /** Point time of the seq before `next`: where the next query's window starts. */
  time: number;
  maxSeen: number;
  /** When a gap at `next` was first noticed (0: none). */
  gapSince: number;
  /** Seqs below this were handed over by `take`; any of them seen later is dropped at the next `take`. */
  floor: number;
}

function advance(f: Front, got: Map<number, number>, times: Map<number, number>, now: number): void {
  for (;;) {
    if (got.has(f.next)) {
      f.time = times.get(f.next) ?? f.time;
      times.delete(f.next);
      f.next++;
      f.gapSince = 0;
    } else if (f.maxSeen > f.next && f.gapSince === 0) {
      f.gapSince = now;
      return;
    } else if (f.maxSeen > f.next && now - f.gapSince >= SKIP_AFTER_MS) {
      f.next++;
      f.gapSince = 0;
    } else {
      return;
    }
  }
}

export function startProbe(opts: {
  store: TelemetryStore;
  targets: ProbeTarget[];
  firstSeq: number;
  /** Epoch ms: no sampled point is older. */
  sinceMs: number;
  intervalMs: number;
}): Probe {
  const { store, targets } = opts;
  const byPseudonym = new Map(targets.map((t) => [t.pseudonym, t]));
  const seen = new Map<string, Map<number, number>>(targets.map((t) => [t.login, new Map()]));
  // Per login: next seq not yet seen in an unbroken run, and the time of the last seen one.
  const front = new Map(
    targets.map((t) => [
      t.login,
      { next: opts.firstSeq, time: opts.sinceMs, maxSeen: -1, gapSince: 0, floor: opts.firstSeq },
    ]),
  );
  const pointTimes = new Map<string, Map<number, number>>(targets.map((t) => [t.login, new Map()]));
  const sources = [
    ...new Set(
      targets.map(
        (t) => `${quoteIdentifier(store.databaseFor(t.tenantId))}..${quoteIdentifier(t.measurement)}`,
      ),
    ),
  ];
  const filter = targets.map((t) => `device = ${quoteString(t.pseudonym)}`).join(' OR ');
  const stats: ProbeStats = { polls: 0, rows: 0, queryMsAvg: 0, queryMsMax: 0, errors: 0, resolutionMs: 0 };
  let totalQueryMs = 0;
  let totalHalfSpan = 0;
  let stopped = false;
  // Start of the previous poll: a point first returned now was not yet visible then.
  let previousStart = Date.now();

  const poll = async (): Promise<void> => {
    const since = Math.max(Math.min(...[...front.values()].map((f) => f.time)), Date.now() - MAX_WINDOW_MS);
    const q = `SELECT seq FROM ${sources.join(', ')} WHERE (${filter}) AND time >= ${since}ms GROUP BY device`;
    const start = performance.now();
    const startedAt = Date.now();
    try {
      const results = await store.query(targets[0]?.tenantId ?? '', q);
      const answeredAt = Date.now();
      // Visible after the previous poll's snapshot and by this answer: the middle of that span.
      const at = (previousStart + answeredAt) / 2;
      totalHalfSpan += (answeredAt - previousStart) / 2;
      for (const series of results[0]?.series ?? []) {
        const target = byPseudonym.get(series.tags?.device ?? '');
        if (!target) continue;
        const got = seen.get(target.login) as Map<number, number>;
        const times = pointTimes.get(target.login) as Map<number, number>;
        const f = front.get(target.login) as Front;
        for (const [time, seq] of series.values) {
          stats.rows++;
          if (typeof seq !== 'number' || got.has(seq)) continue;
          got.set(seq, at);
          f.maxSeen = Math.max(f.maxSeen, seq);
          if (typeof time === 'number') times.set(seq, time);
        }
        advance(f, got, times, at);
      }
    } catch {
      stats.errors++;
    }
    previousStart = startedAt;
    const ms = performance.now() - start;
    stats.polls++;
    stats.resolutionMs = totalHalfSpan / stats.polls;
    totalQueryMs += ms;
    stats.queryMsMax = Math.max(stats.queryMsMax, ms);
    stats.queryMsAvg = totalQueryMs / stats.polls;
  };

  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      await poll();
      const wait = opts.intervalMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();

  const waitSeen = async (expected: Record<string, Iterable<number>>, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const missing = (): boolean => {
      for (const [login, seqs] of Object.entries(expected)) {
        const got = seen.get(login);
        for (const seq of seqs) if (!got?.has(seq)) return true;
      }
      return false;
    };
    while (missing() && Date.now() < deadline) await new Promise((r) => setTimeout(r, opts.intervalMs));
  };

  return {
    seen,
    stats,
    async finish(expected, timeoutMs) {
      await waitSeen(expected, timeoutMs);
      stopped = true;
      await loop;
    },
    async take(expected, timeoutMs) {
      // Lists, not iterators: they are read while waiting and again to hand over.
      const lists = Object.fromEntries(Object.entries(expected).map(([login, seqs]) => [login, [...seqs]]));
      await waitSeen(lists, timeoutMs);
      const out = new Map<string, Map<number, number>>();
      for (const [login, seqs] of Object.entries(lists)) {
        const got = seen.get(login);
        const f = front.get(login);
        const times = pointTimes.get(login);
        if (!got || !f || !times) continue;
        const taken = new Map<number, number>();
        let floor = f.floor;
        for (const seq of seqs) {
          const at = got.get(seq);
          if (at !== undefined) taken.set(seq, at);
          if (seq >= floor) floor = seq + 1;
        }
        out.set(login, taken);
        // The front moves past what was handed over: a seq still missing is not waited for again.
        if (f.next < floor) {
          f.time = Math.max(f.time, times.get(floor - 1) ?? f.time);
          f.next = floor;
          f.gapSince = 0;
        }
        f.floor = floor;
        for (const seq of got.keys()) if (seq < floor) got.delete(seq);
        for (const seq of times.keys()) if (seq < floor) times.delete(seq);
      }
      return out;
    },
  };
}

/**
 * Publish-to-queryable latencies of a sample: per login, each sent seq's visibility time minus its
 * send time (`sentAt[i]` is `latencies[i]`'s); a seq never seen counts as overwritten when a
 * timestamp collision took it (ts-collisions.ts), else as not seen.
 */
export function sampleLatencies(
  sent: Record<string, Map<number, number>>,
  seen: Map<string, Map<number, number>>,
  overwritten: Record<string, number[]>,
): { latencies: number[]; sentAt: number[]; notSeen: number; overwritten: number } {
  const latencies: number[] = [];
  const sentAtOf: number[] = [];
  let notSeen = 0;
  let shared = 0;
  for (const [login, times] of Object.entries(sent)) {
    const got = seen.get(login);
    const collided = new Set(overwritten[login]);
    for (const [seq, sentAt] of times) {
      const at = got?.get(seq);
      if (at !== undefined) {
        latencies.push(at - sentAt);
        sentAtOf.push(sentAt);
      } else if (collided.has(seq)) shared++;
      else notSeen++;
    }
  }
  return { latencies, sentAt: sentAtOf, notSeen, overwritten: shared };
}
