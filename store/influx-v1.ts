/**
 * TelemetryStore over the InfluxDB 1.x HTTP API: one database per tenant,
 * `/write?precision=ms` for points, `/query` (POST form) for InfluxQL.
 */
import { SkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { createInfluxHttp, errorText, type InfluxResponse } from './influx-http.ts';
import { quoteIdentifier, quoteString } from './influxql.ts';
import { encodePoints } from './line-protocol.ts';
import { StoreError } from './store-error.ts';
import type { QueryResult, QuerySeries, TelemetryStore } from './telemetry-store.ts';

/** Deadline of one request when none is given: how long a write may still be on its way. */
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface InfluxV1StoreOptions {
  /** Base URL, e.g. http://127.0.0.1:8086 */
  url: string;
  /** Omit when influxd runs without auth (never in production: per-tenant readers need it). */
  username?: string;
  password?: string;
  /** Database name = prefix + tenant id. Default 'skjold_'. */
  databasePrefix?: string;
  /** Upper bound on concurrent connections to influxd. Default 4. */
  maxSockets?: number;
  /** Deadline per request, ms, including time queued for a socket. Default 10000. */
  timeoutMs?: number;
}

/** The tenant ids the store takes. The registry allows these; checked again here because a tenant id becomes a database name. */
export const TENANT_ID = /^[a-z0-9_-]{1,64}$/;

function statusError(
  code: 'SKJOLD_ERR_STORE_WRITE' | 'SKJOLD_ERR_STORE_QUERY',
  res: InfluxResponse,
): StoreError {
  const text = errorText(res.body) || `HTTP ${res.status}`;
  // 5xx, 408 and 429: influxd is overloaded, restarting or timing out; the same request can succeed later.
  // Other 4xx (bad points, field type conflict, missing database, no permission) will fail the same way again.
  if (res.status >= 500 || res.status === 408 || res.status === 429) {
    return new StoreError('SKJOLD_ERR_STORE_UNAVAILABLE', text, { retryable: true, httpStatus: res.status });
  }
  return new StoreError(code, text, { retryable: false, httpStatus: res.status });
}

function parseResults(body: string, status: number): QueryResult[] {
  let parsed: { results?: unknown };
  try {
    parsed = JSON.parse(body) as { results?: unknown };
  } catch (err) {
    throw new StoreError('SKJOLD_ERR_STORE_QUERY', 'response is not JSON', {
      retryable: false,
      httpStatus: status,
      cause: err,
    });
  }
  if (!Array.isArray(parsed.results)) {
    throw new StoreError('SKJOLD_ERR_STORE_QUERY', 'response has no results', {
      retryable: false,
      httpStatus: status,
    });
  }
  const results = parsed.results as QueryResult[];
  for (const result of results) {
    // v1 omits `values` for an empty series; callers get [] instead.
    for (const series of result.series ?? []) (series as Partial<QuerySeries>).values ??= [];
  }
  return results;
}

function firstError(results: readonly QueryResult[]): string | undefined {
  return results.find((r) => r.error !== undefined)?.error;
}

export function createInfluxV1Store(options: InfluxV1StoreOptions): TelemetryStore {
  const prefix = options.databasePrefix ?? 'skjold_';
  const http = createInfluxHttp({
    url: options.url,
    username: options.username,
    password: options.password,
    maxSockets: options.maxSockets ?? 4,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });

  const databaseFor = (tenantId: string): string => {
    if (!TENANT_ID.test(tenantId)) {
      throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'tenant id must be 1–64 characters of [a-z0-9_-]');
    }
    // The tenant id is used as is: mapping '-' to '_' would give tenants 'a-b' and 'a_b' one database.
    return `${prefix}${tenantId}`;
  };

  const runQuery = async (statements: string, db?: string): Promise<QueryResult[]> => {
    const params = new URLSearchParams({ epoch: 'ms' });
    const form = new URLSearchParams({ q: statements });
    if (db !== undefined) form.set('db', db);
    const res = await http.request('POST', '/query', params, form.toString());
    if (res.status !== 200) throw statusError('SKJOLD_ERR_STORE_QUERY', res);
    return parseResults(res.body, res.status);
  };

  // Administrative statements: any statement error is a failure.
  const admin = async (statements: string): Promise<QueryResult[]> => {
    const results = await runQuery(statements);
    const error = firstError(results);
    if (error !== undefined) throw new StoreError('SKJOLD_ERR_STORE_QUERY', error, { retryable: false });
    return results;
  };

  const writeBody = async (db: string, body: Buffer): Promise<void> => {
    const res = await http.request('POST', '/write', new URLSearchParams({ db, precision: 'ms' }), body);
    if (res.status !== 204 && res.status !== 200) throw statusError('SKJOLD_ERR_STORE_WRITE', res);
  };

  const rows = (result: QueryResult | undefined): unknown[][] => result?.series?.[0]?.values ?? [];

  return {
    databaseFor,

    async ensureTenant(tenantId) {
      // CREATE DATABASE is a no-op for an existing database in 1.x.
      await admin(`CREATE DATABASE ${quoteIdentifier(databaseFor(tenantId))}`);
    },

    async write(tenantId: string, points: readonly Point[]) {
      const db = databaseFor(tenantId);
      if (points.length === 0) return;
      await writeBody(db, Buffer.from(encodePoints(points)));
    },

    async writeLines(tenantId: string, lines: Buffer) {
      const db = databaseFor(tenantId);
      if (lines.length === 0) return;
      await writeBody(db, lines);
    },

    query(tenantId, influxql) {
      return runQuery(influxql, databaseFor(tenantId));
    },

    async execute(tenantId, influxql) {
      const results = await runQuery(influxql, databaseFor(tenantId));
      const error = firstError(results);
      if (error !== undefined) throw new StoreError('SKJOLD_ERR_STORE_QUERY', error, { retryable: false });
      return results;
    },

    async grantReader(tenantId, username, password) {
      const db = databaseFor(tenantId);
      const user = quoteIdentifier(username);
      const secret = quoteString(password);
      const existing = rows((await admin('SHOW USERS'))[0]).find((row) => row[0] === username);
      if (existing?.[1] === true) {
        // A dashboard credential must never carry admin rights; refuse rather than half-downgrade an admin.
        throw new SkjoldError(
          'SKJOLD_ERR_CONFLICT',
          'user exists as an InfluxDB admin; choose another reader name',
        );
      }
      const [, grants] = await admin(
        `${existing ? `SET PASSWORD FOR ${user} = ${secret}` : `CREATE USER ${user} WITH PASSWORD ${secret}`}; ` +
          `SHOW GRANTS FOR ${user}`,
      );
      // One credential, one tenant: revoke whatever it held elsewhere, then GRANT READ,
      // which also replaces a WRITE or ALL it may have held on this database.
      const revokes = rows(grants)
        .filter((row) => row[0] !== db && row[1] !== 'NO PRIVILEGES' && typeof row[0] === 'string')
        .map((row) => `REVOKE ALL ON ${quoteIdentifier(row[0] as string)} FROM ${user}`);
      await admin([...revokes, `GRANT READ ON ${quoteIdentifier(db)} TO ${user}`].join('; '));
    },

    async revokeReader(username) {
      const existing = rows((await admin('SHOW USERS'))[0]).find((row) => row[0] === username);
      // An admin is not a dashboard credential: leave it to whoever made it.
      if (existing && existing[1] !== true) await admin(`DROP USER ${quoteIdentifier(username)}`);
    },

    async ping() {
      try {
        const res = await http.request('GET', '/ping', new URLSearchParams());
        return res.status === 204;
      } catch {
        return false;
      }
    },

    async close() {
      http.close();
    },
  };
}
