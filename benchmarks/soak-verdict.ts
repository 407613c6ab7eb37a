/**
 * The soak's judgement, kept pure so it can be tested apart from the run:
 * the rate it offers, the slope of Skjold's resident memory after warm-up,
 * the spread of p99 latency from the first third of the run to the last, and
 * the verdict. The acceptance: zero loss, RSS slope under 1 MiB per minute
 * after warm-up, p99 flat.
 */

import { P99_BAR_MS } from './stats.ts';

/** Share of the measured capacity the soak offers: loaded, with headroom for the machine's noise. */
export const SOAK_SHARE = 0.7;
export const MAX_RSS_SLOPE_MIB_PER_MIN = 1;
/** p99 is flat when the last third's median p99 is within this factor of the first third's… */
export const MAX_P99_GROWTH = 1.25;
/** …or within this many ms of it: the probe resolves visibility to about ± half its 100 ms poll. */
export const P99_SLACK_MS = 50;
/** Fewest intervals a slope is fitted over. */
const MIN_SLOPE_POINTS = 2;

export interface RateChoice {
  rate: number;
  source: string;
}

/**
 * `--rate` as given; else `--capacity` × 0.7; else the highest passing end-to-end rate of the last
 * `npm run bench` × 0.7. Throws when none is known.
 */
export function chooseRate(opts: {
  rate: number | undefined;
  capacity: number | undefined;
  latest: { file: string; achievedRate: number | undefined } | undefined;
}): RateChoice {
  if (opts.rate !== undefined) return { rate: Math.round(opts.rate), source: '--rate' };
  if (opts.capacity !== undefined)
    return {
      rate: Math.round(opts.capacity * SOAK_SHARE),
      source: `70 % of --capacity ${opts.capacity} msg/s`,
    };
  const achieved = opts.latest?.achievedRate;
  if (opts.latest && achieved !== undefined && achieved > 0)
    return {
      rate: Math.round(achieved * SOAK_SHARE),
      source: `70 % of ${achieved} msg/s, phases.pipeline.sustained.achievedRate in ${opts.latest.file}`,
    };
  throw new Error(
    'no capacity to take 70 % of: give --rate or --capacity, or run `npm run bench:pipeline` first ' +
      `(${opts.latest ? `${opts.latest.file} has no passing end-to-end step` : 'no results/latest.json'})`,
  );
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function slope(points: Array<{ x: number; y: number }>): number | null {
  const n = points.length;
  if (n < 2) return null;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface IntervalFigures {
  /** Minutes from the start of the soak's load to the end of the interval. */
  endMin: number;
  rssMiB: number;
  /** p99 publish-to-queryable latency of the interval's sampled messages; NaN when none was seen. */
  p99Ms: number;
}

export interface RssSlope {
  miBPerMin: number | null;
  /** Warm-up actually left out: `--warmup-min`, or less when the soak is too short to leave two intervals. */
  warmupMin: number;
  intervalsUsed: number;
}

export interface P99Spread {
  /** Intervals in each third (at least one). */
  thirdOf: number;
  firstThirdMedianMs: number;
  lastThirdMedianMs: number;
  /** last ÷ first. */
  ratio: number;
  maxMs: number;
  slopeMsPerMin: number | null;
}

export interface Verdict {
  pass: boolean;
  failures: string[];
  rss: RssSlope;
  p99: P99Spread;
}

/** RSS slope over the intervals ending after the warm-up; the warm-up shrinks to keep two intervals. */
export function rssSlope(intervals: IntervalFigures[], warmupMin: number): RssSlope {
  let used = intervals.filter((i) => i.endMin > warmupMin);
  let warmup = warmupMin;
  if (used.length < MIN_SLOPE_POINTS) {
    used = intervals.slice(-MIN_SLOPE_POINTS);
    const before = intervals[intervals.length - used.length - 1];
    warmup = before ? before.endMin : 0;
  }
  const s = slope(used.map((i) => ({ x: i.endMin, y: i.rssMiB })));
  return {
    miBPerMin: s === null ? null : round2(s),
    warmupMin: warmup,
    intervalsUsed: s === null ? 0 : used.length,
  };
}

export function p99Spread(intervals: IntervalFigures[]): P99Spread {
  const third = Math.max(1, Math.floor(intervals.length / 3));
  const first = median(intervals.slice(0, third).map((i) => i.p99Ms));
  const last = median(intervals.slice(-third).map((i) => i.p99Ms));
  const s = slope(intervals.map((i) => ({ x: i.endMin, y: i.p99Ms })));
  return {
    thirdOf: third,
    firstThirdMedianMs: round2(first),
    lastThirdMedianMs: round2(last),
    ratio: round2(last / first),
    maxMs: Math.max(...intervals.map((i) => (Number.isNaN(i.p99Ms) ? Number.POSITIVE_INFINITY : i.p99Ms))),
    slopeMsPerMin: s === null ? null : round2(s),
  };
}

export function soakVerdict(intervals: IntervalFigures[], lost: number, warmupMin: number): Verdict {
  const rss = rssSlope(intervals, warmupMin);
  const p99 = p99Spread(intervals);
  const failures: string[] = [];
  if (lost !== 0) failures.push(`${lost} acknowledged messages not stored`);
  if (rss.miBPerMin === null) failures.push('RSS slope not measured: fewer than two intervals');
  else if (!(rss.miBPerMin < MAX_RSS_SLOPE_MIB_PER_MIN))
    failures.push(`RSS slope ${rss.miBPerMin} MiB/min ≥ ${MAX_RSS_SLOPE_MIB_PER_MIN}`);
  const flat = Math.max(MAX_P99_GROWTH * p99.firstThirdMedianMs, p99.firstThirdMedianMs + P99_SLACK_MS);
  if (!(p99.lastThirdMedianMs <= flat))
    failures.push(
      `p99 not flat: last third's median ${p99.lastThirdMedianMs} ms > ${round2(flat)} ms ` +
        `(first third's ${p99.firstThirdMedianMs} ms × ${MAX_P99_GROWTH}, or + ${P99_SLACK_MS} ms)`,
    );
  if (!(p99.maxMs < P99_BAR_MS))
    failures.push(
      `an interval's p99 ${Number.isFinite(p99.maxMs) ? `${p99.maxMs} ms` : '(none seen)'} ≥ ${P99_BAR_MS} ms`,
    );
  return { pass: failures.length === 0, failures, rss, p99 };
}

const round2 = (v: number): number => Math.round(v * 100) / 100;
