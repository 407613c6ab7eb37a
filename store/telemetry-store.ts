import type { Point } from '../lib/point.ts';

/** A value in a query result row. With `epoch=ms`, the `time` column is milliseconds since the epoch. */
export type QueryValue = string | number | boolean | null;

/** One series of an InfluxQL result (InfluxDB v1 JSON). */
export interface QuerySeries {
  /** Measurement name; absent for statements such as SHOW USERS. */
  name?: string;
  /** Present when the query has GROUP BY tags. */
  tags?: Record<string, string>;
  columns: string[];
  /** Rows, each aligned with `columns`. Empty rather than absent when there are none. */
  values: QueryValue[][];
  /** True when a chunked result was cut short. */
  partial?: boolean;
}

/** The result of one statement: v1's `results[i]`. A statement that failed has `error` and no series. */
export interface QueryResult {
  statement_id?: number;
  series?: QuerySeries[];
  error?: string;
  messages?: Array<{ level: string; text: string }>;
  partial?: boolean;
}

/**
 * The interface every time-series backend implements; one contract suite
 * (telemetry-store.contract.ts) proves each of them. Failures are `StoreError`s
 * (store-error.ts): `retryable` says whether trying the same call again later
 * can succeed.
 */
export interface TelemetryStore {
  /** Creates the tenant's database (idempotent). Each tenant has its own database. */
  ensureTenant(tenantId: string): Promise<void>;
  /** Writes points to the tenant's database; resolves only when the store accepted them. */
  write(tenantId: string, points: readonly Point[]): Promise<void>;
  /**
   * Writes a body already in line protocol (millisecond precision, lines
   * joined by '\n', as `encodePoints` makes them): the spool keeps points in
   * that form, so its drainer sends them without decoding anything.
   */
  writeLines(tenantId: string, lines: Buffer): Promise<void>;
  /** InfluxQL query against one tenant's database (read-only use). */
  query(tenantId: string, influxql: string): Promise<QueryResult[]>;
  /**
   * Statements that change one tenant's data: `DROP SERIES`, `DELETE`,
   * `SELECT … INTO`. Any statement's error is a failure (`SKJOLD_ERR_STORE_QUERY`).
   */
  execute(tenantId: string, influxql: string): Promise<QueryResult[]>;
  /** Creates or updates a read-only dashboard credential for one tenant's database. */
  grantReader(tenantId: string, username: string, password: string): Promise<void>;
  /** Removes a dashboard credential from this store, if it exists there (never an admin). */
  revokeReader(username: string): Promise<void>;
  /** Name of the database that holds a tenant's data. */
  databaseFor(tenantId: string): string;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
