import type { QueryValue, TelemetryStore } from '../../store/telemetry-store.ts';

/** An InfluxQL result flattened to one object per row (tags and fields as columns). */
export async function rows(
  store: TelemetryStore,
  tenantId: string,
  influxql: string,
): Promise<Array<Record<string, QueryValue>>> {
  const results = await store.query(tenantId, influxql);
  const out: Array<Record<string, QueryValue>> = [];
  for (const result of results) {
    if (result.error) throw new Error(`InfluxQL error: ${result.error}`);
    for (const series of result.series ?? []) {
      for (const values of series.values) {
        const row: Record<string, QueryValue> = { ...(series.tags ?? {}) };
        series.columns.forEach((c, i) => {
          row[c] = values[i] ?? null;
        });
        out.push(row);
      }
    }
  }
  return out;
}
