/**
 * The little SQL surface the registry needs, so PGlite (embedded) and
 * PostgreSQL (several instances) are interchangeable and pass one contract
 * suite (registry/registry.contract.ts).
 */
export interface SqlClient {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs `fn` in one transaction: all of it commits, or none of it. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  /** Runs several statements (migrations). */
  exec(text: string): Promise<void>;
  close(): Promise<void>;
  readonly backend: 'pglite' | 'postgres';
}

export interface SqlTx {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  exec(text: string): Promise<void>;
}
