import { describe } from 'node:test';
import { migrate } from '../../registry/migrate.ts';
import { createPostgresClient } from '../../registry/postgres-client.ts';
import type { SqlClient } from '../../registry/sql.ts';
import { startPostgres } from './postgres.ts';
import { freshPglite } from './registry.ts';

/** The registry backends Skjold supports: embedded PGlite (default) and PostgreSQL (DATABASE_URL). */
export const REGISTRY_KINDS = ['pglite', 'postgres'] as const;
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

export interface TestRegistry {
  kind: RegistryKind;
  /** A migrated, empty registry. */
  sql: SqlClient;
  /** Closes the connection and, for PostgreSQL, stops the private server. */
  close(): Promise<void>;
}

/**
 * A fresh, migrated registry of `kind`: PGlite from the shared template, or a
 * private PostgreSQL server (test/harness/postgres.ts) with its own database.
 */
export async function openTestRegistry(kind: RegistryKind): Promise<TestRegistry> {
  if (kind === 'pglite') {
    const sql = await freshPglite();
    return { kind, sql, close: () => sql.close() };
  }
  const server = await startPostgres();
  try {
    const sql = await createPostgresClient(server.url);
    await migrate(sql);
    return {
      kind,
      sql,
      async close() {
        await sql.close();
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * Runs a suite's body once per registry backend, each in its own `describe`
 * with its own hooks: the same tests prove PGlite and PostgreSQL (STYLE.md,
 * one contract suite for every adapter).
 */
export function forEachRegistry(body: (kind: RegistryKind) => void): void {
  for (const kind of REGISTRY_KINDS) describe(`registry: ${kind}`, () => body(kind));
}
