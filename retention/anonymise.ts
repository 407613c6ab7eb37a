/**
 * Anonymisation (recital 26): a contract's telemetry of one device kind is
 * aggregated to area × time bucket, with no device, subject or contract-device
 * tag, and a group is published only when it holds at least k distinct
 * devices; smaller groups are suppressed. The raw series are dropped
 * afterwards, by the caller, once these aggregates are written.
 */
import { STORED_FIELDS } from '../ingest/schemas.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import type { Point } from '../lib/point.ts';
import { quoteIdentifier } from '../store/influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import type { RetentionPolicy } from './policy.ts';
import { COUNT_FIELD, checked, contractCondition } from './telemetry.ts';

const WRITE_CHUNK = 5000;

export const anonymisedMeasurement = (kind: DeviceKind): string => `${kind}_anonymised`;
/** The `area` tag of a group formed from all of a contract's devices (policy `anonymiseGroup: contract`). */
export const ALL_AREAS = '*';

export interface AnonymiseResult {
  /** Groups (area × bucket) written. */
  groups: number;
  /** Groups with fewer than k devices: not published. */
  suppressed: number;
  /** Devices with no area: their readings join no group. */
  devicesWithoutArea: number;
}

interface Accumulator {
  devices: Set<string>;
  fields: Map<string, { n: number; sum: number; min: number; max: number }>;
}

/**
 * Writes `<kind>_anonymised` points (tags area, kind, contract; per bucket:
 * mean/min/max of every numeric field, `devices`, `readings`). A point's
 * identity is measurement + tags + bucket start, so a re-run overwrites the
 * same points instead of adding to them.
 */
export async function anonymise(
  store: TelemetryStore,
  tenantId: string,
  contractId: string,
  kind: DeviceKind,
  /** pseudonym → { device id, area } for every device of the contract and kind. */
  devices: Map<string, { deviceId: string; area: string | null }>,
  policy: Pick<RetentionPolicy, 'anonymiseK' | 'anonymiseInterval' | 'anonymiseGroup'>,
): Promise<AnonymiseResult> {
  const numeric = Object.entries(STORED_FIELDS[kind])
    .filter(([, type]) => type !== 'string')
    .map(([name]) => name);
  const measurement = quoteIdentifier(kind);
  const where = contractCondition(contractId);
  const countField = quoteIdentifier(COUNT_FIELD[kind]);
  // The bounds first: GROUP BY time() over an open range would span from the epoch.
  const [first, last] = checked(
    await store.query(
      tenantId,
      `SELECT first(${countField}) FROM ${measurement} WHERE ${where}; SELECT last(${countField}) FROM ${measurement} WHERE ${where}`,
    ),
  ).map((r) => r.series?.[0]?.values[0]?.[0]);
  const groupOf = (d: { area: string | null }): string | null =>
    policy.anonymiseGroup === 'contract' ? ALL_AREAS : d.area;
  const withoutArea = new Set([...devices.values()].filter((d) => !groupOf(d)).map((d) => d.deviceId));
  if (typeof first !== 'number' || typeof last !== 'number') {
    return { groups: 0, suppressed: 0, devicesWithoutArea: withoutArea.size };
  }

  const selections = numeric.flatMap((f) => {
    const q = quoteIdentifier(f);
    return [`count(${q})`, `mean(${q})`, `min(${q})`, `max(${q})`];
  });
  const [result] = checked(
    await store.query(
      tenantId,
      `SELECT ${selections.join(', ')} FROM ${measurement} WHERE ${where} AND time >= ${first}ms AND time <= ${last}ms ` +
        `GROUP BY time(${policy.anonymiseInterval}), device fill(none)`,
    ),
  );

  // area → bucket start (ms) → accumulator; means combine weighted by their counts.
  const groups = new Map<string, Map<number, Accumulator>>();
  for (const series of result?.series ?? []) {
    const owner = devices.get(series.tags?.device ?? '');
    const group = owner ? groupOf(owner) : null;
    if (!owner || !group) continue;
    const byBucket = groups.get(group) ?? new Map<number, Accumulator>();
    groups.set(group, byBucket);
    for (const row of series.values) {
      const bucket = Number(row[0]);
      const acc: Accumulator = byBucket.get(bucket) ?? { devices: new Set(), fields: new Map() };
      byBucket.set(bucket, acc);
      let any = false;
      numeric.forEach((f, i) => {
        const n = Number(row[1 + i * 4] ?? 0);
        if (!n) return;
        any = true;
        const [mean, min, max] = [row[2 + i * 4], row[3 + i * 4], row[4 + i * 4]].map(Number) as [
          number,
          number,
          number,
        ];
        const s = acc.fields.get(f);
        if (!s) acc.fields.set(f, { n, sum: mean * n, min, max });
        else {
          s.n += n;
          s.sum += mean * n;
          s.min = Math.min(s.min, min);
          s.max = Math.max(s.max, max);
        }
      });
      if (any) acc.devices.add(owner.deviceId);
    }
  }

  const points: Point[] = [];
  let suppressed = 0;
  for (const [area, byBucket] of groups) {
    for (const [bucket, acc] of byBucket) {
      // k-anonymity: a group of fewer than k devices could single one out.
      if (acc.devices.size < policy.anonymiseK) {
        suppressed++;
        continue;
      }
      const fields: Record<string, number> = { devices: acc.devices.size };
      let readings = 0;
      for (const [f, s] of acc.fields) {
        fields[`${f}_mean`] = s.sum / s.n;
        fields[`${f}_min`] = s.min;
        fields[`${f}_max`] = s.max;
        readings = Math.max(readings, s.n);
      }
      fields.readings = readings;
      points.push({
        measurement: anonymisedMeasurement(kind),
        tags: { area, kind, contract: contractId },
        fields,
        integerFields: ['devices', 'readings'],
        timestampMs: bucket,
      });
    }
  }
  for (let i = 0; i < points.length; i += WRITE_CHUNK) {
    await store.write(tenantId, points.slice(i, i + WRITE_CHUNK));
  }
  return { groups: points.length, suppressed, devicesWithoutArea: withoutArea.size };
}
