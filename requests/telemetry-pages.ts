import { SkjoldError } from '../lib/errors.ts';
import { deviceCondition } from '../retention/billing.ts';
import { quoteIdentifier, quoteString } from '../store/influxql.ts';
import type { QueryResult, QueryValue, TelemetryStore } from '../store/telemetry-store.ts';
import { type TimeWindow, timeCondition } from './periods.ts';

/** One stored point: its series' tags and its fields. */
export interface StoredPoint {
  measurement: string;
  /** Milliseconds since the epoch. */
  time: number;
  tags: Record<string, string>;
  fields: Record<string, QueryValue>;
}

export interface SeriesFilter {
  /** Only series whose `device` tag is one of these (a subject's pseudonyms, every key version). */
  deviceIn?: readonly string[];
  /** Leave out series whose `device` tag is one of these (restricted subjects, for non-tenant views). */
  deviceNotIn?: ReadonlySet<string>;
  /** Leave out these measurements (e.g. the billing readings an erasure keeps). */
  measurementsNot?: ReadonlySet<string>;
  /**
   * Only these time windows of a series, by its `device` tag: a subject's
   * occupancy periods of that device. A series whose device has no entry is read whole.
   */
  windows?: ReadonlyMap<string, readonly TimeWindow[]>;
}

const WHOLE: readonly TimeWindow[] = [{ from: null, to: null }];

export const DEFAULT_PAGE = 5000;

function check(results: QueryResult[]): QueryResult[] {
  for (const r of results) if (r.error) throw new SkjoldError('SKJOLD_ERR_STORE_QUERY', r.error);
  return results;
}

const firstColumn = (results: QueryResult[]) =>
  check(results).flatMap((r) => (r.series ?? []).flatMap((s) => s.values.map((v) => String(v[0]))));

/**
 * Reads a tenant's telemetry series by series, a page at a time, so an export
 * of years of 15-minute data from many devices never holds more than one page.
 * Within one series InfluxDB has at most one point per timestamp, so paging by
 * `time > last` with LIMIT is exact: nothing is skipped, nothing repeated.
 */
export function createTelemetryPages(store: TelemetryStore, tenantId: string, pageSize = DEFAULT_PAGE) {
  const q = (influxql: string) => store.query(tenantId, influxql).then(check);

  async function measurements(): Promise<string[]> {
    return firstColumn(await q('SHOW MEASUREMENTS'));
  }
  async function tagKeys(measurement: string): Promise<string[]> {
    return firstColumn(await q(`SHOW TAG KEYS FROM ${quoteIdentifier(measurement)}`));
  }
  async function fieldKeys(measurement: string): Promise<string[]> {
    return firstColumn(await q(`SHOW FIELD KEYS FROM ${quoteIdentifier(measurement)}`));
  }

  /** The tag sets of the measurement's series that pass the filter. */
  async function seriesOf(measurement: string, filter: SeriesFilter): Promise<Array<Record<string, string>>> {
    if (filter.deviceIn && filter.deviceIn.length === 0) return [];
    const where = filter.deviceIn ? ` WHERE ${deviceCondition(filter.deviceIn)}` : '';
    const results = await q(`SELECT * FROM ${quoteIdentifier(measurement)}${where} GROUP BY * LIMIT 1`);
    return results
      .flatMap((r) => r.series ?? [])
      .map((s) => s.tags ?? {})
      .filter(
        (tags) => !(filter.deviceNotIn && tags.device !== undefined && filter.deviceNotIn.has(tags.device)),
      );
  }

  /** A series is its exact tag set: a tag it lacks must be empty, or a wider series would match too. */
  const exactly = (tags: Record<string, string>, keys: readonly string[]) =>
    keys.map((k) => `${quoteIdentifier(k)} = ${quoteString(tags[k] ?? '')}`);

  const windowsOf = (filter: SeriesFilter, tags: Record<string, string>) =>
    (tags.device === undefined ? undefined : filter.windows?.get(tags.device)) ?? WHOLE;

  /** Every point of one series within one time window, oldest first, a page per query. */
  async function* pointsOf(
    measurement: string,
    tags: Record<string, string>,
    keys: readonly string[],
    window: TimeWindow,
  ) {
    const fixed = [...exactly(tags, keys), ...(timeCondition(window) ? [timeCondition(window)] : [])];
    let after: number | undefined;
    for (;;) {
      const conditions = [...fixed, ...(after === undefined ? [] : [`time > ${after}ms`])];
      const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
      const results = await q(
        `SELECT * FROM ${quoteIdentifier(measurement)}${where} GROUP BY * ORDER BY time ASC LIMIT ${pageSize}`,
      );
      const rows = results.flatMap((r) => r.series ?? []).flatMap((s) => s.values.map((v) => ({ s, v })));
      for (const { s, v } of rows) {
        const fields: Record<string, QueryValue> = {};
        s.columns.forEach((c, i) => {
          if (c !== 'time' && v[i] !== null && v[i] !== undefined) fields[c] = v[i] ?? null;
        });
        yield { measurement, time: Number(v[0]), tags: { ...tags }, fields } satisfies StoredPoint;
      }
      if (rows.length < pageSize) return;
      after = Number(rows.at(-1)?.v[0]);
    }
  }

  const measurementsFor = async (filter: SeriesFilter) =>
    (await measurements()).filter((m) => !filter.measurementsNot?.has(m));

  return {
    measurements,
    measurementsFor,
    tagKeys,
    fieldKeys,
    seriesOf,

    /** Every point that passes the filter: measurement by measurement, series by series. */
    async *points(filter: SeriesFilter = {}): AsyncGenerator<StoredPoint> {
      for (const m of await measurementsFor(filter)) {
        const keys = await tagKeys(m);
        for (const tags of await seriesOf(m, filter)) {
          for (const w of windowsOf(filter, tags)) yield* pointsOf(m, tags, keys, w);
        }
      }
    },

    /** Series with points that pass the filter, and those points, counted in InfluxDB (for receipts). */
    async count(filter: SeriesFilter = {}): Promise<{ series: number; points: number }> {
      let series = 0;
      let points = 0;
      for (const m of await measurementsFor(filter)) {
        const keys = await tagKeys(m);
        for (const tags of await seriesOf(m, filter)) {
          const fields = await fieldKeys(m);
          let inWindows = 0;
          for (const w of windowsOf(filter, tags)) {
            const conditions = [...exactly(tags, keys), ...(timeCondition(w) ? [timeCondition(w)] : [])];
            // A point has at least one field; the largest per-field count is exact when some field is on every point.
            const results = await q(
              `SELECT ${fields.map((f) => `count(${quoteIdentifier(f)})`).join(', ')} FROM ${quoteIdentifier(m)}${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''}`,
            );
            const row = results[0]?.series?.[0]?.values[0] ?? [];
            inWindows += Math.max(0, ...row.slice(1).map((v) => Number(v ?? 0)));
          }
          // A series counts when it has points inside the windows (all of it, without windows).
          if (inWindows > 0) series += 1;
          points += inWindows;
        }
      }
      return { series, points };
    },
  };
}

export type TelemetryPages = ReturnType<typeof createTelemetryPages>;
