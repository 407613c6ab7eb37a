import type { DeviceKind } from '../lib/device-kinds.ts';
import { DEVICE_KINDS } from '../lib/device-kinds.ts';
import type { Registry } from '../registry/registry.ts';
import { quoteIdentifier } from '../store/influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { excludedDevices } from './exclusions.ts';
import { OPERATOR_STATISTICS } from './subjects.ts';

/** The one reading per kind the fleet statistics average. */
const MEAN_FIELD: Record<DeviceKind, string> = {
  heat_meter: 'power_kw',
  sim_unit: 'rssi_dbm',
  building_sensor: 'temperature_c',
};

export interface FleetStatistics {
  purpose: typeof OPERATOR_STATISTICS;
  from: string;
  to: string;
  /** Devices left out because their subject is restricted or objected to this purpose. */
  excludedDevices: number;
  tenants: Array<{
    tenant: string;
    kinds: Array<{ kind: DeviceKind; devices: number; points: number; field: string; mean: number | null }>;
  }>;
}

const regex = (values: readonly string[]) =>
  `/^(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$/`;

/**
 * The operator's own statistics (it is controller for these, art. 6(1)(f)):
 * per tenant and device kind, how many devices, how many points in the
 * window, and the mean of one reading. Subjects who are restricted (art. 18)
 * or objected to `operator_statistics` (art. 21, 7(3)) are not counted.
 */
export async function fleetStatistics(
  deps: { registry: Registry; store: TelemetryStore },
  range: { from: Date; to: Date },
): Promise<FleetStatistics> {
  const excluded = await excludedDevices(deps.registry.sql, { purpose: OPERATOR_STATISTICS });
  const excludedIds = new Set(excluded.map((d) => d.deviceId));
  const tenants: FleetStatistics['tenants'] = [];
  for (const t of await deps.registry.listTenants()) {
    const devices = (await deps.registry.listDevices(t.id)).filter((d) => !excludedIds.has(d.id));
    const left = excluded.filter((d) => d.tenantId === t.id).flatMap((d) => d.pseudonyms);
    const kinds = [];
    for (const kind of DEVICE_KINDS) {
      const field = MEAN_FIELD[kind];
      const conditions = [`time >= ${range.from.getTime()}ms`, `time < ${range.to.getTime()}ms`];
      if (left.length > 0) conditions.push(`"device" !~ ${regex(left)}`);
      const results = await deps.store.query(
        t.id,
        `SELECT count(${quoteIdentifier(field)}), mean(${quoteIdentifier(field)}) FROM ${quoteIdentifier(kind)} WHERE ${conditions.join(' AND ')}`,
      );
      const row = results[0]?.series?.[0]?.values[0];
      kinds.push({
        kind,
        devices: devices.filter((d) => d.kind === kind).length,
        points: Number(row?.[1] ?? 0),
        field,
        mean: typeof row?.[2] === 'number' ? row[2] : null,
      });
    }
    tenants.push({ tenant: t.id, kinds });
  }
  return {
    purpose: OPERATOR_STATISTICS,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    excludedDevices: excluded.length,
    tenants,
  };
}
