import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { type PostgresServer, startPostgres } from '../test/harness/postgres.ts';
import { migrate } from './migrate.ts';
import { createPostgresClient } from './postgres-client.ts';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(() => server?.stop());

test('instances starting together on an empty PostgreSQL migrate it once, neither failing', async () => {
  for (let round = 0; round < 5; round++) {
    const database = `fresh_${round}`;
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const url = server.url.replace(/\/[^/]+$/, `/${database}`);
    const clients = await Promise.all([createPostgresClient(url), createPostgresClient(url)]);
    try {
      const [first, second] = await Promise.all(clients.map((c) => migrate(c)));
      assert.ok(first && second);
      assert.ok(first.length > 0 || second.length > 0);
      assert.equal(first.filter((v) => second.includes(v)).length, 0, 'no migration ran twice');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }
});
