/** Latency and rate summaries for the results file. */

/** Publish-to-queryable p99 every end-to-end step and soak interval must stay under (ms). */
export const P99_BAR_MS = 1_000;

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of `values` (ms), rounded to 0.1. */
export function distribution(values: number[]): Distribution {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number): number => {
    if (sorted.length === 0) return Number.NaN;
    return r1(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
  };
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: at(100),
    mean: sorted.length ? r1(sum / sorted.length) : Number.NaN,
  };
}

const r1 = (v: number): number => Math.round(v * 10) / 10;

/** Messages per second over [fromMs, toMs]. */
export function perSecond(count: number, fromMs: number | null, toMs: number | null): number {
  if (fromMs === null || toMs === null || toMs <= fromMs) return 0;
  return Math.round(count / ((toMs - fromMs) / 1000));
}
