import type { DeviceKind } from '../lib/device-kinds.ts';
import { DEVICE_KINDS } from '../lib/device-kinds.ts';
import type { Registry } from '../registry/registry.ts';
import { MIN_ANONYMISE_K } from '../retention/policy.ts';
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

export interface FleetKindStatistics {
  kind: DeviceKind;
  /** Registered devices of the kind, less the excluded ones. */
  devices: number;
  /** Devices with readings in the window: the group the statistics are over. */
  reporting: number;
  /** True when fewer than `minGroupSize` devices reported: points and mean are then null. */
  suppressed: boolean;
  points: number | null;
  field: string;
  /** Mean of the reporting devices' own means: each device weighs the same. */
  mean: number | null;
}

export interface FleetStatistics {
  purpose: typeof OPERATOR_STATISTICS;
  from: string;
  to: string;
  /** Fewest reporting devices a group needs before its points and mean are shown (as retention's k). */
  minGroupSize: number;
  /** Devices left out because their subject is restricted or objected to this purpose. */
  excludedDevices: number;
  tenants: Array<{ tenant: string; kinds: FleetKindStatistics[] }>;
}

const regex = (values: readonly string[]) =>
  `/^(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$/`;

/**
 * The operator's own statistics (it is controller for these, art. 6(1)(f)):
 * per tenant and device kind, how many devices, how many points in the
 * window, and the mean of one reading. Subjects who are restricted (art. 18)
 * or objected to `operator_statistics` (art. 21, 7(3)) are not counted.
 * A group of fewer than MIN_ANONYMISE_K reporting devices shows neither its
 * points nor its mean (recital 26, as retention's aggregates: a mean over one
 * or two households is theirs), and no group shows a minimum or maximum.
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
    const owners = await pseudonymOwners(deps.registry, t.id);
    const kinds: FleetKindStatistics[] = [];
    for (const kind of DEVICE_KINDS) {
      const field = quoteIdentifier(MEAN_FIELD[kind]);
      const conditions = [`time >= ${range.from.getTime()}ms`, `time < ${range.to.getTime()}ms`];
      if (left.length > 0) conditions.push(`"device" !~ ${regex(left)}`);
      const results = await deps.store.query(
        t.id,
        `SELECT count(${field}), mean(${field}) FROM ${quoteIdentifier(kind)} WHERE ${conditions.join(' AND ')} GROUP BY "device"`,
      );
      // Per device (its key versions' series together): readings and their sum.
      const perDevice = new Map<string, { n: number; sum: number }>();
      for (const s of results[0]?.series ?? []) {
        // Series no registered device claims (a device since removed) are left out.
        const owner = owners.get(s.tags?.device ?? '');
        const [, n, mean] = s.values[0] ?? [];
        if (!owner || typeof n !== 'number' || typeof mean !== 'number' || n === 0) continue;
        const acc = perDevice.get(owner) ?? { n: 0, sum: 0 };
        acc.n += n;
        acc.sum += mean * n;
        perDevice.set(owner, acc);
      }
      const reporting = perDevice.size;
      const suppressed = reporting < MIN_ANONYMISE_K;
      const means = [...perDevice.values()].map((d) => d.sum / d.n);
      kinds.push({
        kind,
        devices: devices.filter((d) => d.kind === kind).length,
        reporting,
        suppressed,
        points: suppressed ? null : [...perDevice.values()].reduce((a, d) => a + d.n, 0),
        field: MEAN_FIELD[kind],
        mean: suppressed ? null : means.reduce((a, m) => a + m, 0) / means.length,
      });
    }
    tenants.push({ tenant: t.id, kinds });
  }
  return {
    purpose: OPERATOR_STATISTICS,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    minGroupSize: MIN_ANONYMISE_K,
    excludedDevices: excluded.length,
    tenants,
  };
}

/** login pseudonym (every key version) → device id, for one tenant. */
async function pseudonymOwners(registry: Registry, tenantId: string): Promise<Map<string, string>> {
  const rows = await registry.sql.query<{ deviceId: string; pseudonym: string }>(
    `SELECT d.id AS "deviceId", p.pseudonym FROM devices d
     JOIN device_pseudonyms p ON p.device_id = d.id AND p.id_type = d.login_type
     WHERE d.tenant_id = $1`,
    [tenantId],
  );
  return new Map(rows.map((r) => [r.pseudonym, r.deviceId]));
}
