/**
 * Anonymisation (recital 26): a contract's telemetry of one device kind is
 * aggregated to area × time bucket, with no device, subject or contract-device
 * tag. A group is published only when it holds at least k distinct devices,
 * and then only as count, sum and mean: never a minimum, maximum or any other
 * order statistic, which would be one household's own reading. Each device
 * contributes one value per field (its mean over the bucket, clamped:
 * contribution-bounds.ts), so no device weighs more than another, and the
 * policy may add calibrated noise (noise.ts). The raw series are dropped
 * afterwards, by the caller, once these aggregates are written.
 */
import { STORED_FIELDS } from '../ingest/schemas.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import type { Point } from '../lib/point.ts';
import { quoteIdentifier } from '../store/influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { CONTRIBUTION_BOUNDS, clamp } from './contribution-bounds.ts';
import { cryptoUniform, laplace, sumScale, type UniformSource } from './noise.ts';
import type { RetentionPolicy } from './policy.ts';
import { COUNT_FIELD, checked, contractCondition } from './telemetry.ts';

const WRITE_CHUNK = 5000;

export const anonymisedMeasurement = (kind: DeviceKind): string => `${kind}_anonymised`;
/** The `area` tag of a group formed from all of a contract's devices (policy `anonymiseGroup: contract`). */
export const ALL_AREAS = '*';
/** What a published group holds, in words, for plans, receipts and the audit log. */
export const PUBLISHED_STATISTICS =
  '`devices` (count of distinct devices), `<field>_sum` and `<field>_mean` of the devices’ clamped bucket means; no minimum, maximum or other single value';

export type AnonymisePolicy = Pick<
  RetentionPolicy,
  'anonymiseK' | 'anonymiseInterval' | 'anonymiseGroup' | 'anonymiseNoise'
>;

/** What anonymising under this policy publishes, as plans and receipts state it. */
export interface AnonymisationTerms {
  k: number;
  group: RetentionPolicy['anonymiseGroup'];
  interval: RetentionPolicy['anonymiseInterval'];
  published: string;
  noise: RetentionPolicy['anonymiseNoise'];
}

export const anonymisationTerms = (policy: AnonymisePolicy): AnonymisationTerms => ({
  k: policy.anonymiseK,
  group: policy.anonymiseGroup,
  interval: policy.anonymiseInterval,
  published: PUBLISHED_STATISTICS,
  noise: policy.anonymiseNoise,
});

export interface AnonymiseResult {
  /** Groups (area × bucket) written. */
  groups: number;
  /** Groups with fewer than k devices: not published. */
  suppressed: number;
  /** Fields of published groups that fewer than k of the group's devices reported: left out. */
  fieldsWithheld: number;
  /** Device bucket means outside their field's bound, clamped to it before summing. */
  clamped: number;
  /** Devices with no area: their readings join no group. */
  devicesWithoutArea: number;
  /** The noise added, or null: exact sums and means. */
  noise: { epsilon: number; sumScale: Record<string, number> } | null;
}

/** A device's readings of one field in one bucket, across its key versions' pseudonyms. */
interface DeviceField {
  n: number;
  sum: number;
}

/**
 * Writes `<kind>_anonymised` points (tags area, kind, contract; fields
 * `devices`, `<field>_sum`, `<field>_mean`). A point's identity is measurement
 * + tags + bucket start, so a re-run overwrites the same points instead of
 * adding to them (with noise, a re-run draws new noise: see docs/retention.md).
 */
export async function anonymise(
  store: TelemetryStore,
  tenantId: string,
  contractId: string,
  kind: DeviceKind,
  /** pseudonym → { device id, area } for every device of the contract and kind. */
  devices: Map<string, { deviceId: string; area: string | null }>,
  policy: AnonymisePolicy,
  uniform: UniformSource = cryptoUniform,
): Promise<AnonymiseResult> {
  const numeric = Object.entries(STORED_FIELDS[kind])
    .filter(([, type]) => type !== 'string')
    .map(([name]) => name);
  const bounds = CONTRIBUTION_BOUNDS[kind];
  const epsilon = policy.anonymiseNoise?.epsilon;
  const scales = Object.fromEntries(
    numeric.map((f) => [f, epsilon ? sumScale(bounds[f] ?? { lo: 0, hi: 0 }, numeric.length, epsilon) : 0]),
  );
  const noise = epsilon ? { epsilon, sumScale: scales } : null;
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
  const empty = { groups: 0, suppressed: 0, fieldsWithheld: 0, clamped: 0, noise };
  if (typeof first !== 'number' || typeof last !== 'number') {
    return { ...empty, devicesWithoutArea: withoutArea.size };
  }

  const selections = numeric.flatMap((f) => [`count(${quoteIdentifier(f)})`, `mean(${quoteIdentifier(f)})`]);
  const [result] = checked(
    await store.query(
      tenantId,
      `SELECT ${selections.join(', ')} FROM ${measurement} WHERE ${where} AND time >= ${first}ms AND time <= ${last}ms ` +
        `GROUP BY time(${policy.anonymiseInterval}), device fill(none)`,
    ),
  );

  // group → bucket start (ms) → device id → field → readings. A device's key
  // versions are separate series; they are one device here.
  const groups = new Map<string, Map<number, Map<string, Map<string, DeviceField>>>>();
  for (const series of result?.series ?? []) {
    const owner = devices.get(series.tags?.device ?? '');
    const group = owner ? groupOf(owner) : null;
    if (!owner || !group) continue;
    const byBucket = groups.get(group) ?? new Map<number, Map<string, Map<string, DeviceField>>>();
    groups.set(group, byBucket);
    for (const row of series.values) {
      const bucket = Number(row[0]);
      const byDevice = byBucket.get(bucket) ?? new Map<string, Map<string, DeviceField>>();
      byBucket.set(bucket, byDevice);
      numeric.forEach((f, i) => {
        const n = Number(row[1 + i * 2] ?? 0);
        if (!n) return;
        const fields = byDevice.get(owner.deviceId) ?? new Map<string, DeviceField>();
        byDevice.set(owner.deviceId, fields);
        const acc = fields.get(f) ?? { n: 0, sum: 0 };
        acc.n += n;
        acc.sum += Number(row[2 + i * 2]) * n;
        fields.set(f, acc);
      });
    }
  }

  const points: Point[] = [];
  let suppressed = 0;
  let fieldsWithheld = 0;
  let clamped = 0;
  for (const [area, byBucket] of groups) {
    for (const [bucket, byDevice] of byBucket) {
      // k-anonymity: a group of fewer than k devices could single one out.
      if (byDevice.size < policy.anonymiseK) {
        suppressed++;
        continue;
      }
      const fields: Record<string, number> = { devices: byDevice.size };
      for (const f of numeric) {
        const bound = bounds[f] ?? { lo: 0, hi: 0 };
        let n = 0;
        let sum = 0;
        for (const perField of byDevice.values()) {
          const acc = perField.get(f);
          if (!acc) continue;
          const mean = acc.sum / acc.n;
          const value = clamp(mean, bound);
          if (value !== mean) clamped++;
          n++;
          sum += value;
        }
        // The same rule per field: a sum over fewer than k devices is theirs.
        if (n < policy.anonymiseK) {
          if (n > 0) fieldsWithheld++;
          continue;
        }
        if (epsilon) sum += laplace(scales[f] ?? 0, uniform);
        fields[`${f}_sum`] = sum;
        fields[`${f}_mean`] = sum / n;
      }
      points.push({
        measurement: anonymisedMeasurement(kind),
        tags: { area, kind, contract: contractId },
        fields,
        integerFields: ['devices'],
        timestampMs: bucket,
      });
    }
  }
  for (let i = 0; i < points.length; i += WRITE_CHUNK) {
    await store.write(tenantId, points.slice(i, i + WRITE_CHUNK));
  }
  return {
    groups: points.length,
    suppressed,
    fieldsWithheld,
    clamped,
    devicesWithoutArea: withoutArea.size,
    noise,
  };
}
