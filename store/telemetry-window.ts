import { SkjoldError } from '../lib/errors.ts';

/** At most this many points per series: a window that would give more is refused (docs/telemetry-api.md). */
export const MAX_POINTS_PER_SERIES = 10_000;
/** A window chosen for the caller gives at most this many points: enough for a chart as wide as a screen. */
export const DEFAULT_TARGET_POINTS = 500;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_WINDOW_MS = 366 * UNIT_MS.d;
/** The windows a default is chosen from, finest first. */
const LADDER = ['10s', '1m', '5m', '15m', '1h', '6h', '1d', '7d', '28d'] as const;

/** A window as InfluxQL's GROUP BY time() takes it, e.g. `15m`. */
export const WINDOW_PATTERN = /^([1-9][0-9]{0,5})(s|m|h|d)$/;

export function windowMs(window: string): number {
  const m = WINDOW_PATTERN.exec(window);
  if (!m) throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'window must be a whole number of s, m, h or d');
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms > MAX_WINDOW_MS) throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'window must be at most 366d');
  return ms;
}

/**
 * How many points one series has over [from, to): InfluxDB starts the
 * windows at multiples of the window since the epoch, so the first one may
 * begin before `from`.
 */
export function bucketCount(fromMs: number, toMs: number, window: number): number {
  const first = Math.floor(fromMs / window) * window;
  return Math.max(0, Math.ceil((toMs - first) / window));
}

/**
 * The window for a range: the caller's, if it gives at most
 * MAX_POINTS_PER_SERIES points (refused otherwise, never silently coarsened:
 * a chart must not show a different aggregation than it asked for), or the
 * finest of the ladder that gives at most DEFAULT_TARGET_POINTS.
 */
export function resolveWindow(fromMs: number, toMs: number, requested: string | undefined): string {
  if (requested !== undefined) {
    const n = bucketCount(fromMs, toMs, windowMs(requested));
    if (n > MAX_POINTS_PER_SERIES)
      throw new SkjoldError(
        'SKJOLD_ERR_QUERY_TOO_LARGE',
        `window ${requested} gives ${n} points per series over this range; at most ${MAX_POINTS_PER_SERIES}`,
      );
    return requested;
  }
  for (const w of LADDER) if (bucketCount(fromMs, toMs, windowMs(w)) <= DEFAULT_TARGET_POINTS) return w;
  // Past the ladder's top: the coarsest window that still fits, in whole days.
  const days = Math.ceil((toMs - fromMs) / DEFAULT_TARGET_POINTS / UNIT_MS.d) + 1;
  const w = `${days}d`;
  windowMs(w);
  return w;
}
