import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { manualClock } from '../lib/clock.ts';
import type { SqlClient } from '../registry/sql.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { type AuditLog, canonicalJson, createAuditLog } from './audit-log.ts';

const dir = mkdtempSync(join(tmpdir(), 'skjold-audit-'));
let sql: SqlClient;
let audit: AuditLog;
let n = 0;

beforeEach(async () => {
  await sql?.close();
  sql = await freshPglite();
  audit = createAuditLog(sql, {
    clock: manualClock('2026-03-01T00:00:00Z'),
    anchorFile: join(dir, `anchor-${n++}.json`),
  });
  for (let i = 1; i <= 5; i++) {
    await audit.append({
      actor: 'operator',
      action: 'test.entry',
      tenantId: 'acme',
      target: `p${i}`,
      detail: { i },
    });
  }
});
after(async () => {
  await sql?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('an untouched chain verifies, with its head', async () => {
  const result = await audit.verify();
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.equal(result.entries, 5);
  assert.equal(result.head?.seq, 5);
  const entries = await audit.list({ tenantId: 'acme' });
  assert.deepEqual(
    entries.map((e) => e.detail.i),
    [1, 2, 3, 4, 5],
  );
  assert.equal(entries[1]?.prevHash, entries[0]?.hash);
});

test('an edited entry is detected', async () => {
  await sql.query(`UPDATE audit_log SET detail = '{"i":99}' WHERE seq = 3`);
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.deepEqual(
    result.problems.map((p) => p.seq),
    [3],
  );
  assert.match(result.problems[0]?.problem ?? '', /edited/);
});

test('an edit that also recomputes the entry’s own hash still breaks the chain after it', async () => {
  await sql.query(`UPDATE audit_log SET target = 'other', hash = repeat('a', 64) WHERE seq = 2`);
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.ok(result.problems.some((p) => p.seq === 3 && /does not follow/.test(p.problem)));
});

test('a removed entry is detected', async () => {
  await sql.query('DELETE FROM audit_log WHERE seq = 2');
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.ok(result.problems.some((p) => /missing/.test(p.problem)));
});

test('reordered entries are detected', async () => {
  await sql.query('UPDATE audit_log SET seq = seq + 100 WHERE seq IN (2, 4)');
  await sql.query('UPDATE audit_log SET seq = CASE seq WHEN 102 THEN 4 ELSE 2 END WHERE seq > 100');
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.ok(result.problems.length >= 2);
});

test('entries cut from the end are detected through the anchor', async () => {
  await sql.query('DELETE FROM audit_log WHERE seq >= 4');
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.match(result.problems[0]?.problem ?? '', /removed from the end/);
});

test('appends from many callers at once form one chain', async () => {
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      audit.append({ actor: 'system', action: 'test.burst', detail: { i } }),
    ),
  );
  const result = await audit.verify();
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.equal(result.entries, 25);
});

test('canonical JSON sorts keys at every depth', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } }),
    '{"a":{"c":3,"d":[2,{"y":2,"z":1}]},"b":1}',
  );
});
