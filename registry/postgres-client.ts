import pg from 'pg';
import type { SqlClient, SqlTx } from './sql.ts';

/** PostgreSQL through a small pool: the registry for several Skjold instances. */
export async function createPostgresClient(url: string, options: { max?: number } = {}): Promise<SqlClient> {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 5 });
  // Fail at start, not at the first device connect, when the URL is wrong.
  const probe = await pool.connect();
  probe.release();
  const wrap = (q: pg.Pool | pg.PoolClient): SqlTx => ({
    async query<T>(text: string, params?: readonly unknown[]) {
      const res = await q.query(text, params as unknown[] | undefined);
      return res.rows as T[];
    },
    async exec(text: string) {
      await q.query(text);
    },
  });
  const base = wrap(pool);
  return {
    backend: 'postgres',
    query: base.query,
    exec: base.exec,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
