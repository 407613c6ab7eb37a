/**
 * Aggregates an older Skjold wrote published each group's `<field>_min`,
 * `<field>_max` and `readings`, and groups of as few as two devices: single
 * households' readings (recital 26 is not met). Every retention run rewrites
 * them: a group of fewer than MIN_ANONYMISE_K devices is removed, a larger
 * one keeps only `devices` and its `<field>_mean`s (a mean of readings over
 * at least five devices; the raw data to compute sums again is gone).
 *
 * InfluxDB cannot remove a field from a stored point, so a contract's
 * aggregate series are dropped and written again. The rewritten points are
 * recorded in the registry first (retention_progress), so a run killed
 * between the drop and the write finishes it from there on the next run.
 */
import { DEVICE_KINDS } from '../lib/device-kinds.ts';
import type { Point } from '../lib/point.ts';
import { quoteIdentifier } from '../store/influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { anonymisedMeasurement } from './anonymise.ts';
import { MIN_ANONYMISE_K } from './policy.ts';
import type { RetentionProgress } from './progress.ts';
import { checked, contractCondition, dropSeries } from './telemetry.ts';

const WRITE_CHUNK = 5000;
const LEGACY_FIELD = /_(min|max)$|^readings$/;

/** Plans: what a run would rewrite. Receipts: what it rewrote. */
export interface LegacyAggregates {
  /** Contracts whose aggregates hold legacy groups. */
  contracts: number;
  /** Legacy groups that keep `devices` and their means. */
  rewritten: number;
  /** Legacy groups of fewer than MIN_ANONYMISE_K devices: removed. */
  removed: number;
}

interface Row {
  tags: Record<string, string>;
  timestampMs: number;
  fields: Record<string, number>;
}

/** The rewrite of one contract's aggregates, as recorded before its series are dropped. */
interface Staged {
  points: Row[];
  rewritten: number;
  removed: number;
}

const isLegacy = (r: Row) => Object.keys(r.fields).some((f) => LEGACY_FIELD.test(f));

/** A legacy group as it may stay, or null when it has too few devices. */
function rewrite(r: Row): Row | null {
  if (!isLegacy(r)) return r;
  if ((r.fields.devices ?? 0) < MIN_ANONYMISE_K) return null;
  const fields = Object.fromEntries(
    Object.entries(r.fields).filter(([f]) => f === 'devices' || f.endsWith('_mean')),
  );
  return { ...r, fields };
}

/** Every aggregate point of a measurement, by contract. */
async function rowsByContract(
  store: TelemetryStore,
  tenantId: string,
  measurement: string,
): Promise<Map<string, Row[]>> {
  const results = await store.query(tenantId, `SELECT * FROM ${quoteIdentifier(measurement)} GROUP BY *`);
  const out = new Map<string, Row[]>();
  // A tenant that never had telemetry has no database, and so no aggregates.
  if (results.some((r) => r.error?.startsWith('database not found'))) return out;
  const [result] = checked(results);
  for (const s of result?.series ?? []) {
    const tags = s.tags ?? {};
    const rows = out.get(tags.contract ?? '') ?? [];
    out.set(tags.contract ?? '', rows);
    for (const values of s.values) {
      const fields: Record<string, number> = {};
      s.columns.forEach((c, i) => {
        const v = values[i];
        if (c !== 'time' && typeof v === 'number') fields[c] = v;
      });
      rows.push({ tags, timestampMs: Number(values[0]), fields });
    }
  }
  return out;
}

export async function legacyAggregates(
  store: TelemetryStore,
  tenantId: string,
  progress: RetentionProgress,
  mode: 'plan' | 'run',
  runId: string,
): Promise<LegacyAggregates> {
  const total: LegacyAggregates = { contracts: 0, rewritten: 0, removed: 0 };
  for (const kind of DEVICE_KINDS) {
    const measurement = anonymisedMeasurement(kind);
    const byContract = await rowsByContract(store, tenantId, measurement);
    // A contract whose series a killed run dropped before writing them again has none left to find.
    for (const contract of await progress.contractsWith(`legacy:${kind}`)) {
      if (!byContract.has(contract)) byContract.set(contract, []);
    }
    for (const [contract, rows] of byContract) {
      const done = await progress.done(contract);
      if (done.has(`/legacy-done:${kind}`)) continue;
      // A run that recorded the rewrite but may not have finished writing it.
      const staged = done.has(`/legacy:${kind}`)
        ? ((await progress.detail(contract, '', `legacy:${kind}`)) as Staged)
        : undefined;
      const legacy = rows.filter(isLegacy);
      if (!staged && legacy.length === 0) continue;
      const kept = legacy.map(rewrite).filter((r) => r !== null).length;
      const plannedRewrite: Staged = staged ?? {
        points: rows.map(rewrite).filter((r): r is Row => r !== null),
        rewritten: kept,
        removed: legacy.length - kept,
      };
      total.contracts++;
      total.rewritten += plannedRewrite.rewritten;
      total.removed += plannedRewrite.removed;
      if (mode === 'plan') continue;
      const { points } = plannedRewrite;
      if (!staged) await progress.record(contract, '', `legacy:${kind}`, runId, { ...plannedRewrite });
      await dropSeries(store, tenantId, measurement, contractCondition(contract));
      const out: Point[] = points.map((r) => ({
        measurement,
        tags: r.tags,
        fields: r.fields,
        integerFields: ['devices'],
        timestampMs: r.timestampMs,
      }));
      for (let i = 0; i < out.length; i += WRITE_CHUNK) {
        await store.write(tenantId, out.slice(i, i + WRITE_CHUNK));
      }
      await progress.record(contract, '', `legacy-done:${kind}`, runId, {
        rewritten: plannedRewrite.rewritten,
        removed: plannedRewrite.removed,
      });
    }
  }
  return total;
}
