import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import type { SqlClient, SqlTx } from './sql.ts';

/**
 * PostgreSQL's shared buffer pool inside the WASM heap. The default (128 MB)
 * is the largest single part of an idle Skjold's memory; the registry's hot
 * rows fit in a fraction of it, and the auth cache answers most lookups anyway.
 */
export const PGLITE_SHARED_BUFFERS = '16MB';

const startParams = [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`];

/**
 * Embedded PostgreSQL (WASM). `dataDir` undefined means in memory; `template`
 * is a dump from `dumpTemplate()` so tests skip the ~7 s initdb.
 */
export async function createPgliteClient(
  options: { dataDir?: string; template?: Blob } = {},
): Promise<SqlClient> {
  if (options.dataDir) await initPgliteDir(options.dataDir);
  const db = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.template ? { loadDataDir: options.template } : {}),
    startParams,
  });
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): SqlTx => ({
    async query<T>(text: string, params?: readonly unknown[]) {
      const res = await q.query<T>(text, params as unknown[] | undefined);
      return res.rows;
    },
    async exec(text: string) {
      await q.exec(text);
    },
  });
  const base = wrap(db);
  return {
    backend: 'pglite',
    query: base.query,
    exec: base.exec,
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    close: () => db.close(),
    // Exposed for the test template; not part of SqlClient.
    dump: () => db.dumpDataDir('none'),
  } as SqlClient & { dump: () => Promise<Blob> };
}

/**
 * Runs initdb for a new data directory in a short-lived child process. initdb
 * is a second WASM instance, and the ~250 MB it touches would otherwise stay
 * in Skjold's resident memory for as long as it runs.
 */
async function initPgliteDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  await promisify(execFile)(process.execPath, [join(import.meta.dirname, 'pglite-init.ts'), dataDir], {
    timeout: 120_000,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(
      `could not create the registry database in ${dataDir}: ${err.stderr?.trim() || err.message}`,
    );
  });
}
