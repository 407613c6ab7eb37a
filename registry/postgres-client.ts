import pg from 'pg';
import type { SqlClient, SqlTx } from './sql.ts';

/** PostgreSQL through a small pool: the registry for several Skjold instances. */
export async function createPostgresClient(
  url: string,
  options: { max?: number; onIdleError?: (err: Error) => void } = {},
): Promise<SqlClient> {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 5 });
  // An idle connection the server closed (restart, failover) is not fatal: the
  // pool drops it and the next query opens a new one. Without a listener it
  // would be an uncaught exception.
  pool.on('error', (err) => options.onIdleError?.(err));
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
