import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { startPostgres } from './postgres.ts';

test('startPostgres: a private server answers select 1 through pg, and stop() removes it', async () => {
  const server = await startPostgres();
  try {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ one: number; db: string }>(
        'select 1 as one, current_database() as db',
      );
      assert.deepEqual(rows, [{ one: 1, db: server.database }]);
    } finally {
      await client.end();
    }
  } finally {
    await server.stop();
  }
  assert.equal(existsSync(server.dataDir), false);
  const probe = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 2000 });
  await assert.rejects(probe.connect());
});

test('two servers run side by side on different ports', async () => {
  const [a, b] = await Promise.all([startPostgres({ database: 'a' }), startPostgres({ database: 'b' })]);
  try {
    assert.notEqual(a.port, b.port);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});
