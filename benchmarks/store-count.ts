import type { TelemetryStore } from '../store/telemetry-store.ts';

/** Points stored across the tenants' databases with `sinceMs` ≤ time < `untilMs` (every measurement has `seq`). */
export async function countPoints(
  store: TelemetryStore,
  tenants: string[],
  sinceMs: number,
  untilMs?: number,
): Promise<number> {
  let total = 0;
  const until = untilMs === undefined ? '' : ` AND time < ${untilMs}ms`;
  for (const tenantId of tenants) {
    const [result] = await store.query(
      tenantId,
      `SELECT count(seq) FROM /.*/ WHERE time >= ${sinceMs}ms${until}`,
    );
    if (result?.error) throw new Error(`count in ${tenantId}: ${result.error}`);
    for (const series of result?.series ?? []) total += Number(series.values[0]?.[1] ?? 0);
  }
  return total;
}

/**
 * Points stored since `sinceMs`, polled every 250 ms until the count reaches
 * `expected` or stops growing for 10 s (the store writes in batches, so a
 * count that still moves is not final).
 */
export async function settledCount(
  store: TelemetryStore,
  tenants: string[],
  sinceMs: number,
  expected: number,
): Promise<number> {
  let last = -1;
  let sameSince = Date.now();
  for (;;) {
    const count = await countPoints(store, tenants, sinceMs);
    if (count >= expected) return count;
    if (count !== last) {
      last = count;
      sameSince = Date.now();
    } else if (Date.now() - sameSince > 10_000) return count;
    await new Promise((r) => setTimeout(r, 250));
  }
}
