import type { TelemetryStore } from '../store/telemetry-store.ts';

/** Points stored across the tenants' databases with time ≥ `sinceMs` (every measurement has `seq`). */
export async function countPoints(
  store: TelemetryStore,
  tenants: string[],
  sinceMs: number,
): Promise<number> {
  let total = 0;
  for (const tenantId of tenants) {
    const [result] = await store.query(tenantId, `SELECT count(seq) FROM /.*/ WHERE time >= ${sinceMs}ms`);
    if (result?.error) throw new Error(`count in ${tenantId}: ${result.error}`);
    for (const series of result?.series ?? []) total += Number(series.values[0]?.[1] ?? 0);
  }
  return total;
}
