/**
 * Copies one tenant's database from one InfluxDB server to another over the
 * v1 API — `SELECT … INTO` cannot cross servers — series by series, in
 * batches read with InfluxQL and written as line protocol, and compares point
 * counts per measurement, series and field afterwards.
 *
 * A copied point has the measurement, tags and timestamp it had, so copying
 * it again overwrites it with itself: a copy interrupted and run again leaves
 * every point once.
 */
import type { FieldValue, Point } from '../lib/point.ts';
import { quoteIdentifier, quoteString } from './influxql.ts';
import type { QueryResult, QueryValue, TelemetryStore } from './telemetry-store.ts';

export interface CopyOptions {
  tenantId: string;
  from: TelemetryStore;
  to: TelemetryStore;
  /** Points per read and per write. */
  batchPoints: number;
  /** Runs each read-then-write batch so that no erasure runs in between (StoreRouter.exclusive). */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface CopyReport {
  measurements: number;
  series: number;
  points: number;
}

// Series listed per query while enumerating a measurement's series.
const SERIES_PAGE = 200;

const seriesOf = (results: QueryResult[]) => {
  const error = results.find((r) => r.error !== undefined)?.error;
  if (error !== undefined) throw new Error(error);
  return results[0]?.series ?? [];
};

const firstColumn = (results: QueryResult[]): string[] =>
  seriesOf(results).flatMap((s) => s.values.map((row) => String(row[0])));

/** The tag condition that selects exactly one series (an empty value matches an absent tag). */
const whereTags = (tags: Record<string, string>): string =>
  Object.entries(tags)
    .map(([k, v]) => `${quoteIdentifier(k)} = ${quoteString(v)}`)
    .join(' AND ');

const nsAfter = (ms: number): string => `time > ${BigInt(ms) * 1_000_000n}`;

function toPoints(
  measurement: string,
  tags: Record<string, string>,
  columns: string[],
  values: QueryValue[][],
  integers: ReadonlySet<string>,
): Point[] {
  // Line protocol has no empty tag value: GROUP BY * reports absent tags as ''.
  const kept = Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== ''));
  return values.map((row) => {
    const fields: Record<string, FieldValue> = {};
    columns.forEach((c, i) => {
      const v = row[i];
      if (i > 0 && v !== null && v !== undefined) fields[c] = v;
    });
    const integerFields = Object.keys(fields).filter((f) => integers.has(f));
    return {
      measurement,
      tags: kept,
      fields,
      ...(integerFields.length > 0 ? { integerFields } : {}),
      timestampMs: Number(row[0]),
    };
  });
}

async function copySeries(
  options: CopyOptions,
  measurement: string,
  tags: Record<string, string>,
  integers: ReadonlySet<string>,
): Promise<number> {
  const { tenantId, from, to, batchPoints } = options;
  const m = quoteIdentifier(measurement);
  const where = whereTags(tags);
  let after: number | undefined;
  let copied = 0;
  for (;;) {
    const conditions = [where, ...(after === undefined ? [] : [nsAfter(after)])].filter(Boolean);
    const q =
      `SELECT * FROM ${m}${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''} ` +
      `GROUP BY * ORDER BY time ASC LIMIT ${batchPoints}`;
    const n = await options.exclusive(async () => {
      const [series] = seriesOf(await from.query(tenantId, q));
      if (!series || series.values.length === 0) return 0;
      const points = toPoints(measurement, tags, series.columns, series.values, integers);
      await to.write(tenantId, points);
      after = points[points.length - 1]?.timestampMs;
      return points.length;
    });
    copied += n;
    if (n < batchPoints) return copied;
  }
}

/** Copies every measurement and series of the tenant's database on `from` to `to`. */
export async function copyTenant(options: CopyOptions): Promise<CopyReport> {
  const { tenantId, from } = options;
  const report: CopyReport = { measurements: 0, series: 0, points: 0 };
  for (const measurement of firstColumn(await from.query(tenantId, 'SHOW MEASUREMENTS'))) {
    const m = quoteIdentifier(measurement);
    const types = seriesOf(await from.query(tenantId, `SHOW FIELD KEYS FROM ${m}`));
    const integers = new Set(
      types.flatMap((s) => s.values.filter((r) => r[1] === 'integer').map((r) => String(r[0]))),
    );
    report.measurements++;
    for (let offset = 0; ; offset += SERIES_PAGE) {
      // One point per series is enough to learn its tags (GROUP BY * names them all, absent ones as '').
      const page = seriesOf(
        await from.query(
          tenantId,
          `SELECT * FROM ${m} GROUP BY * LIMIT 1 SLIMIT ${SERIES_PAGE} SOFFSET ${offset}`,
        ),
      );
      for (const series of page) {
        report.series++;
        report.points += await copySeries(options, measurement, series.tags ?? {}, integers);
      }
      if (page.length < SERIES_PAGE) break;
    }
  }
  return report;
}

/** Point counts per measurement, series and field. */
async function counts(store: TelemetryStore, tenantId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const measurement of firstColumn(await store.query(tenantId, 'SHOW MEASUREMENTS'))) {
    const q = `SELECT count(*) FROM ${quoteIdentifier(measurement)} GROUP BY *`;
    for (const series of seriesOf(await store.query(tenantId, q))) {
      const tags = Object.entries(series.tags ?? {})
        .filter(([, v]) => v !== '')
        .sort(([a], [b]) => (a < b ? -1 : 1));
      const row = series.values[0] ?? [];
      series.columns.forEach((c, i) => {
        if (i > 0) out.set(JSON.stringify([measurement, tags, c]), Number(row[i] ?? 0));
      });
    }
  }
  return out;
}

/**
 * Series (by measurement, tags and field) that hold fewer points on `to` than
 * on `from`. More is allowed: writes go to `to` while the copy runs.
 */
export async function missingOnTarget(
  tenantId: string,
  from: TelemetryStore,
  to: TelemetryStore,
): Promise<Array<{ key: string; source: number; target: number }>> {
  const [source, target] = await Promise.all([counts(from, tenantId), counts(to, tenantId)]);
  const short: Array<{ key: string; source: number; target: number }> = [];
  for (const [key, n] of source) {
    const have = target.get(key) ?? 0;
    if (have < n) short.push({ key, source: n, target: have });
  }
  return short;
}
