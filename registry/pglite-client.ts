import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { SqlClient, SqlTx } from './sql.ts';

/**
 * Embedded PostgreSQL (WASM). `dataDir` undefined means in memory; `template`
 * is a dump from `dumpTemplate()` so tests skip the ~7 s initdb.
 */
export async function createPgliteClient(
  options: { dataDir?: string; template?: Blob } = {},
): Promise<SqlClient> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const db = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.template ? { loadDataDir: options.template } : {}),
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
