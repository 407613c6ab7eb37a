import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { withTenantKeys } from '../pseudonymizer/env-keys.ts';
import { openKeyStore } from '../pseudonymizer/keystore.ts';
import { migrate } from '../registry/migrate.ts';
import { createPostgresClient } from '../registry/postgres-client.ts';
import type { SqlClient } from '../registry/sql.ts';
import { type PostgresServer, startPostgres } from '../test/harness/postgres.ts';
import { type AuditLog, createAuditLog } from './audit-log.ts';

let server: PostgresServer;
let keysValue: string;
const dir = mkdtempSync(join(tmpdir(), 'skjold-audit-pg-'));
const clients: SqlClient[] = [];

before(async () => {
  server = await startPostgres();
  // One SKJOLD_KEYS value for both instances, as in a cluster: one audit key.
  keysValue = await withTenantKeys('', []);
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh database on the shared server; `n` instances, each with its own connection pool. */
async function instances(
  database: string,
  anchors: (i: number) => { anchorFile: string; peerAnchorFiles?: string[] },
  n = 2,
): Promise<{ logs: AuditLog[]; sql: SqlClient }> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const url = server.url.replace(/\/[^/]+$/, `/${database}`);
  const logs: AuditLog[] = [];
  let first: SqlClient | undefined;
  for (let i = 0; i < n; i++) {
    const sql = await createPostgresClient(url);
    clients.push(sql);
    await migrate(sql);
    first ??= sql;
    const key = await (await openKeyStore({ envValue: keysValue })).auditKey();
    logs.push(createAuditLog(sql, { key, ...anchors(i) }));
  }
  return { logs, sql: first as SqlClient };
}

/** Both instances append at once, interleaved: `perInstance` entries each, tagged with the instance. */
async function appendConcurrently(logs: AuditLog[], perInstance: number): Promise<void> {
  await Promise.all(
    logs.flatMap((log, instance) =>
      Array.from({ length: perInstance }, (_, i) =>
        log.append({ actor: 'system', action: 'test.concurrent', detail: { instance, i } }),
      ),
    ),
  );
}

const readAnchor = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as { seq: number; hash: string };

test('two instances, each with its own anchor file, append at once: one chain, every anchor on it', async () => {
  const files = [join(dir, 'a.json'), join(dir, 'b.json')];
  const { logs, sql } = await instances('own_anchors', (i) => ({
    anchorFile: files[i] as string,
    peerAnchorFiles: files.filter((_, j) => j !== i),
  }));
  await appendConcurrently(logs, 40);

  for (const log of logs) {
    const result = await log.verify();
    assert.equal(result.ok, true, JSON.stringify(result.problems.slice(0, 5)));
    assert.equal(result.entries, 80);
    assert.deepEqual(
      result.anchors.map((a) => a.file),
      logs.indexOf(log) === 0 ? files : [...files].reverse(),
    );
  }
  // Each instance's anchor names its own newest entry, with that entry's hash.
  const rows = await sql.query<{ seq: string; hash: string; detail: string }>(
    'SELECT seq, hash, detail FROM audit_log ORDER BY seq',
  );
  const heads = files.map((file, instance) => {
    const own = rows.filter((r) => (JSON.parse(r.detail) as { instance: number }).instance === instance);
    const newest = own.at(-1);
    assert.deepEqual(readAnchor(file), { seq: Number(newest?.seq), hash: newest?.hash });
    return Number(newest?.seq);
  });
  assert.equal(Math.max(...heads), 80, 'the newer of the two anchors is the head');

  // Cutting the newest entry off is seen by both instances.
  await sql.query('DELETE FROM audit_log WHERE seq = 80');
  for (const log of logs) {
    const result = await log.verify();
    assert.ok(result.problems.some((p) => p.kind === 'truncated' && p.seq === 80));
  }
});

test('two instances sharing one anchor file append at once: the file always holds the head', async () => {
  const shared = join(dir, 'shared.json');
  const { logs, sql } = await instances('shared_anchor', () => ({ anchorFile: shared }));
  await appendConcurrently(logs, 40);
  const [head] = await sql.query<{ seq: string; hash: string }>(
    'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
  );
  assert.deepEqual(readAnchor(shared), { seq: 80, hash: head?.hash });
  for (const log of logs) {
    const result = await log.verify();
    assert.equal(result.ok, true, JSON.stringify(result.problems.slice(0, 5)));
    assert.equal(result.entries, 80);
  }
  // Verification while the other instance keeps appending: reads head and anchor together.
  const during = await Promise.all([appendConcurrently([logs[0] as AuditLog], 30), logs[1]?.verify()]);
  assert.equal(during[1]?.ok, true, JSON.stringify(during[1]?.problems.slice(0, 5)));
  assert.equal((await logs[1]?.verify())?.entries, 110);
});
