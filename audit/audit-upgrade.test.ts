import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freshPglite } from '../test/harness/registry.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { canonicalJson, GENESIS, legacyHash } from './entry-hash.ts';

const dir = mkdtempSync(join(tmpdir(), 'skjold-audit-upgrade-'));
let stack: Stack | undefined;
after(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('Skjold started on a chain an older version hashed with SHA-256 seals it under the audit key, and it verifies', async () => {
  // The registry and anchor as the older version left them.
  const sql = await freshPglite();
  let prevHash = GENESIS;
  for (let seq = 1; seq <= 3; seq++) {
    const e = {
      seq,
      at: `2026-02-0${seq}T00:00:00.000Z`,
      actor: 'operator',
      action: 'keys.rotate',
      tenantId: 'nordvarme',
      target: null,
      detail: canonicalJson({ version: seq + 1 }),
      prevHash,
    };
    const hash = legacyHash(e);
    await sql.query(
      `INSERT INTO audit_log (seq, at, actor, action, tenant_id, target, detail, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [e.seq, e.at, e.actor, e.action, e.tenantId, e.target, e.detail, e.prevHash, hash],
    );
    prevHash = hash;
  }
  const anchorFile = join(dir, 'audit-anchor.json');
  writeFileSync(anchorFile, JSON.stringify({ seq: 3, hash: prevHash }), { mode: 0o600 });

  stack = await startStack({ SKJOLD_AUDIT_ANCHOR_FILE: anchorFile }, { skjold: { sql } });
  assert.ok(stack.logs.some((l) => /the chain written before the audit key is now sealed/.test(l)));
  await stack.api.createTenant({ id: 'nordvarme', name: 'Nordvarme' });

  const res = await stack.api.raw('GET', '/v1/audit/verify');
  assert.equal(res.status, 200, res.text);
  const result = JSON.parse(res.text) as { ok: boolean; entries: number };
  assert.equal(result.ok, true);
  assert.equal(result.entries, 5);
  const entries = await stack.skjold.audit.list();
  assert.deepEqual(
    entries.map((e) => e.action),
    ['keys.rotate', 'keys.rotate', 'keys.rotate', 'audit.keyed', 'tenant.create'],
  );
  assert.deepEqual(entries[3]?.detail, { legacyEntries: 3, legacyHead: prevHash });
});
