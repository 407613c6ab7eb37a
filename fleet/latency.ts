import type { Histogram } from 'prom-client';

/** A histogram's cumulative bucket counts at one moment; `bounds` in seconds, the last one +Inf. */
export interface HistogramSnapshot {
  bounds: number[];
  counts: number[];
}

export async function snapshotHistogram(h: Histogram): Promise<HistogramSnapshot> {
  const { values } = await h.get();
  const buckets = values
    .filter((v) => v.metricName?.endsWith('_bucket'))
    .map((v) => ({ le: v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le), n: v.value }))
    .sort((a, b) => a.le - b.le);
  return { bounds: buckets.map((b) => b.le), counts: buckets.map((b) => b.n) };
}

/**
 * The q-quantile, in ms, of what was observed between two snapshots, by linear
 * interpolation inside the bucket it falls in (as Prometheus'
 * histogram_quantile does); null when nothing was observed.
 */
export function quantileMs(
  from: HistogramSnapshot | undefined,
  to: HistogramSnapshot,
  q: number,
): number | null {
  const counts = to.counts.map((n, i) => n - (from?.counts[i] ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n < rank) continue;
    const upper = to.bounds[i] ?? Number.POSITIVE_INFINITY;
    const lower = i === 0 ? 0 : (to.bounds[i - 1] ?? 0);
    // Past the last finite bound the best answer is that bound.
    if (!Number.isFinite(upper)) return lower * 1000;
    const below = i === 0 ? 0 : (counts[i - 1] ?? 0);
    const inBucket = n - below;
    const fraction = inBucket > 0 ? (rank - below) / inBucket : 1;
    return Math.round((lower + (upper - lower) * fraction) * 1000 * 100) / 100;
  }
  return null;
}
