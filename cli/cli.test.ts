import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../test/harness/cli.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';

let stack: Stack;

const skjold = (...args: string[]) => runCli(stack, ...args);

before(async () => {
  stack = await startStack();
});
after(() => stack.stop());

test('an operator registers a tenant, a contract and devices from the command line', async () => {
  assert.equal((await skjold('tenants', 'add', 'hedevarme', '--name', 'Hedevarme A.m.b.a.')).code, 0);
  const contract = await skjold(
    ...['contracts', 'add', '--tenant', 'hedevarme', '--id', 'heat', '--role', 'processor'],
    ...['--purpose', 'district heating billing', '--legal-basis', 'contract', '--starts', '2026-01-01'],
    ...['--jurisdiction', 'DK'],
  );
  assert.equal(contract.code, 0, contract.stderr);
  const added = await skjold(
    ...['devices', 'add', '--tenant', 'hedevarme', '--contract', 'heat', '--kind', 'heat_meter'],
    ...['--wmbus', 'KAM12345678'],
  );
  assert.equal(added.code, 0, added.stderr);
  const device = JSON.parse(added.stdout) as { id: string; secret: string; pseudonym: string };
  assert.match(device.secret, /^[0-9a-f]{32}$/);
  assert.match(device.pseudonym, /^v1\.[a-z2-7]{26}$/);

  const dir = mkdtempSync(join(tmpdir(), 'skjold-cli-'));
  const csv = join(dir, 'devices.csv');
  writeFileSync(
    csv,
    'kind,contract,wmbus,serial\nheat_meter,heat,KAM87654321,\nbuilding_sensor,heat,,BS-ROOM-0001\nheat_meter,heat,KAM12345678,\n',
  );
  const imported = await skjold('devices', 'import', '--tenant', 'hedevarme', csv);
  assert.equal(imported.code, 0, imported.stderr);
  const report = JSON.parse(imported.stdout) as {
    imported: number;
    results: Array<{ row: number; error?: { code: string } }>;
  };
  assert.equal(report.imported, 2);
  assert.equal(
    report.results.find((r) => r.row === 4)?.error?.code,
    'SKJOLD_ERR_CONFLICT',
    'a meter registered twice',
  );

  const listed = JSON.parse((await skjold('devices', 'list', '--tenant', 'hedevarme')).stdout) as unknown[];
  assert.equal(listed.length, 3);
  assert.ok(!JSON.stringify(listed).includes('KAM'), 'the registry gives back no raw identifier');

  const rotated = JSON.parse((await skjold('keys', 'rotate', '--tenant', 'hedevarme')).stdout) as {
    version: number;
  };
  assert.equal(rotated.version, 2);
});

test('mistakes get a clear message and a non-zero exit code', async () => {
  const invalid = await skjold(
    'devices',
    'add',
    '--tenant',
    'hedevarme',
    '--contract',
    'heat',
    '--kind',
    'sim_unit',
    '--iccid',
    '8945000000000000001',
  );
  assert.equal(invalid.code, 1);
  assert.match(
    invalid.stderr,
    /SKJOLD_ERR_IDENTIFIER_INVALID: identifier fails validation: not a valid iccid/,
  );
  assert.ok(!invalid.stderr.includes('8945000000000000001'), 'the error does not echo the identifier');

  const missing = await skjold('contracts', 'add', '--tenant', 'hedevarme');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--id is required/);

  const unknownTenant = await skjold('devices', 'list', '--tenant', 'nobody');
  assert.equal(unknownTenant.code, 1);
  assert.match(unknownTenant.stderr, /SKJOLD_ERR_NOT_FOUND/);

  const usage = await skjold('frobnicate');
  assert.equal(usage.code, 2);
  assert.match(usage.stdout, /Usage: skjold/);
});

test('audit verify exits 0 on an intact chain and 1 with each problem named by its kind', async () => {
  const ok = await skjold('audit', 'verify');
  assert.equal(ok.code, 0, ok.stderr);
  const result = JSON.parse(ok.stdout) as { ok: boolean; entries: number };
  assert.equal(result.ok, true);
  assert.ok(result.entries > 0, 'the registry changes above were audited');

  const anchorFile = stack.config.SKJOLD_AUDIT_ANCHOR_FILE;
  const anchor = readFileSync(anchorFile, 'utf8');
  unlinkSync(anchorFile);
  const missing = await skjold('audit', 'verify');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /audit log verification FAILED \(1 problems in \d+ entries\)/);
  assert.match(missing.stderr, /anchor-missing: anchor missing: .*audit-anchor\.json does not exist/);
  writeFileSync(anchorFile, anchor);

  // A row appended straight into the registry, by someone without the audit key.
  const sql = stack.skjold.registry.sql;
  await sql.query(
    `INSERT INTO audit_log (seq, at, actor, action, tenant_id, target, detail, prev_hash, hash)
     SELECT seq + 1, at, 'operator', 'tenant.create', NULL, NULL, '{}', hash, repeat('c', 64)
     FROM audit_log ORDER BY seq DESC LIMIT 1`,
  );
  const forged = await skjold('audit', 'verify');
  assert.equal(forged.code, 1);
  assert.match(forged.stderr, /edited at entry (\d+): content does not match its hash/);
  assert.match(forged.stderr, /unanchored at entry \d+: after the newest anchored entry/);
  await sql.query('DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)');
  assert.equal((await skjold('audit', 'verify')).code, 0);
});
