/**
 * What retention asks InfluxDB: how many series and points each device has,
 * and how to remove a device's raw series from data and index alike.
 */
import type { DeviceKind } from '../lib/device-kinds.ts';
import { SkjoldError } from '../lib/errors.ts';
import { quoteIdentifier, quoteString } from '../store/influxql.ts';
import type { QueryResult, TelemetryStore } from '../store/telemetry-store.ts';

/** A field every point of the kind carries: counting it counts points. */
export const COUNT_FIELD: Record<DeviceKind, string> = {
  heat_meter: 'energy_kwh',
  sim_unit: 'rssi_dbm',
  building_sensor: 'temperature_c',
};

export interface SeriesCount {
  series: number;
  points: number;
}

export function checked(results: QueryResult[]): QueryResult[] {
  const error = results.find((r) => r.error)?.error;
  if (error !== undefined) throw new SkjoldError('SKJOLD_ERR_STORE_QUERY', error);
  return results;
}

/**
 * Series and points per device pseudonym of one contract's `kind` telemetry,
 * counted in InfluxDB (`GROUP BY *`: one result series per stored series).
 */
export async function countByPseudonym(
  store: TelemetryStore,
  tenantId: string,
  measurement: string,
  field: string,
  where: string,
): Promise<Map<string, SeriesCount>> {
  const [result] = checked(
    await store.query(
      tenantId,
      `SELECT count(${quoteIdentifier(field)}) FROM ${quoteIdentifier(measurement)} WHERE ${where} GROUP BY *`,
    ),
  );
  const counts = new Map<string, SeriesCount>();
  for (const s of result?.series ?? []) {
    const device = s.tags?.device ?? '';
    const c = counts.get(device) ?? { series: 0, points: 0 };
    c.series += 1;
    c.points += Number(s.values[0]?.[1] ?? 0);
    counts.set(device, c);
  }
  return counts;
}

export const contractCondition = (contractId: string): string => `contract = ${quoteString(contractId)}`;

export function sumCounts(counts: Iterable<SeriesCount>): SeriesCount {
  const total = { series: 0, points: 0 };
  for (const c of counts) {
    total.series += c.series;
    total.points += c.points;
  }
  return total;
}

/**
 * Removes series from the measurement. `DROP SERIES` (not `DELETE`) so the
 * pseudonyms leave InfluxDB's index too and `SHOW TAG VALUES` no longer lists them.
 */
export async function dropSeries(
  store: TelemetryStore,
  tenantId: string,
  measurement: string,
  where: string,
): Promise<void> {
  await store.execute(tenantId, `DROP SERIES FROM ${quoteIdentifier(measurement)} WHERE ${where}`);
}
