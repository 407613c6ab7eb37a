import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SkjoldError } from '../lib/errors.ts';
import type { HoldSealer } from '../retention/hold-sealing.ts';
import type { SqlClient, SqlTx } from './sql.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');
// Any constant works; it keeps two instances starting together from both migrating.
const LOCK_ID = 7_245_001;

/** What a migration that converts stored rows may need beside SQL. */
export interface MigrationContext {
  /** Seals and pseudonymises under each tenant's key (the key store lives apart from the registry). */
  sealer?: HoldSealer;
  /** Applies migrations up to this version only: a test's registry as an older Skjold left it. */
  upTo?: number;
}

/** A migration in TypeScript (NNN-name.ts): for conversions SQL alone cannot make, such as sealing rows. */
export interface CodeMigration {
  up(tx: SqlTx, context: MigrationContext): Promise<void>;
}

/**
 * Applies registry/migrations/NNN-name.sql (or .ts) in order, each in its own
 * transaction, recording it in schema_migrations. Returns the versions applied.
 */
export async function migrate(sql: SqlClient, context: MigrationContext = {}): Promise<number[]> {
  // Under the lock too: two concurrent CREATE TABLE IF NOT EXISTS can both
  // find no table and one then fails on the catalog's unique index.
  await sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{3}-[a-z0-9-]+\.(sql|ts)$/.test(f)).sort();
  const applied: number[] = [];
  for (const file of files) {
    const version = Number(file.slice(0, 3));
    if (context.upTo !== undefined && version > context.upTo) break;
    const path = join(MIGRATIONS_DIR, file);
    const run = file.endsWith('.ts')
      ? ((await import(pathToFileURL(path).href)) as CodeMigration).up
      : async (tx: SqlTx) => tx.exec(await readFile(path, 'utf8'));
    try {
      const ran = await sql.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
        const done = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [version]);
        if (done.length > 0) return false;
        await run(tx, context);
        await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [version, file]);
        return true;
      });
      if (ran) applied.push(version);
    } catch (err) {
      throw new SkjoldError('SKJOLD_ERR_MIGRATION', file, { cause: err });
    }
  }
  return applied;
}
