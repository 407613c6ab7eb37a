import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../test/harness/cli.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import type { ProcessingRecord } from './records.ts';

let stack: Stack;

const skjold = (...args: string[]) => runCli(stack, ...args);

before(async () => {
  stack = await startStack({
    SKJOLD_OPERATOR_NAME: 'Nordisk Fjernaflæsning ApS',
    SKJOLD_SUBPROCESSORS: 'Hetzner (hosting, DE)',
  });
  await stack.api.createTenant({ id: 'hedevarme', name: 'Hedevarme A.m.b.a.' });
  await stack.api.createTenant({ id: 'fjordnet', name: 'Fjordnet AB' });
  await stack.api.createContract('hedevarme', {
    id: 'heat',
    role: 'processor',
    purpose: 'district heating billing',
    legalBasis: 'contract',
    startsOn: '2026-01-01',
    endsOn: '2026-12-31',
    jurisdiction: 'DK',
  });
  await stack.api.createContract('fjordnet', {
    id: 'fleet',
    role: 'controller',
    purpose: 'network quality statistics',
    legalBasis: 'legitimate_interests',
    startsOn: '2026-01-01',
    endsOn: null,
    jurisdiction: 'SE',
  });
  await stack.api.addDevice('hedevarme', {
    kind: 'heat_meter',
    contractId: 'heat',
    identifiers: { wmbus: 'KAM12345678' },
  });
  await stack.api.addDevice('fjordnet', {
    kind: 'sim_unit',
    contractId: 'fleet',
    identifiers: { iccid: '8946071234567890129' },
  });
});
after(() => stack.stop());

test('skjold records prints the art. 30 records: processor and controller variants from the registry', async () => {
  const json = await skjold('records', '--json');
  assert.equal(json.code, 0, json.stderr);
  const records = JSON.parse(json.stdout) as ProcessingRecord[];
  assert.deepEqual(
    records.map((r) => [r.tenant.id, r.variant, r.article, r.controller, r.processor]),
    [
      ['fjordnet', 'controller', 'art. 30(1)', 'Nordisk Fjernaflæsning ApS', undefined],
      ['hedevarme', 'processor', 'art. 30(2)', 'Hedevarme A.m.b.a.', 'Nordisk Fjernaflæsning ApS'],
    ],
  );
  const heat = records[1];
  assert.deepEqual(heat?.devices, { heat_meter: 1 });
  assert.deepEqual(heat?.purposes, ['district heating billing']);
  assert.ok(heat?.recipients.includes('Hetzner (hosting, DE)'));
  assert.match(
    heat?.retention[0] ?? '',
    /telemetry: deleted 12 months after the contract ends, on 2028-01-01/,
  );
  assert.match(heat?.retention[1] ?? '', /fiscal year \+ 5 years.*until 2032-01-01/);
  assert.match(records[0]?.retention[1] ?? 'none', /none/, 'no billing rule for a fleet without heat meters');
  assert.match(records[0]?.categoriesOfData[0] ?? '', /rssi_dbm/);

  // A contract's own policy is what its record states.
  await stack.api.call('PUT', '/v1/tenants/hedevarme/contracts/heat/retention', {
    telemetryAction: 'anonymise',
    anonymiseK: 8,
    graceMonths: 6,
  });
  const changed = JSON.parse(
    (await skjold('records', '--json', '--tenant', 'hedevarme')).stdout,
  ) as ProcessingRecord[];
  assert.match(
    changed[0]?.retention[0] ?? '',
    /telemetry: anonymised \(groups of at least 8 devices, the rest suppressed\) 6 months after the contract ends, on 2027-07-01/,
  );

  const text = await skjold('records', '--tenant', 'hedevarme');
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /Record of processing, processor \(art\. 30\(2\)\) — tenant hedevarme, contract heat/,
  );
  assert.match(text.stdout, /Security measures \(art\. 32\):\n {4}- pseudonymisation/);
  assert.doesNotMatch(text.stdout, /fjordnet|KAM12345678/);
});

test('skjold audit verify passes on an intact log and exits 1 naming the entry after tampering', async () => {
  await stack.api.rotateKey('hedevarme');
  await stack.api.rotateKey('fjordnet');
  const ok = await skjold('audit', 'verify');
  assert.equal(ok.code, 0, ok.stderr);
  const intact = JSON.parse(ok.stdout) as { ok: boolean; entries: number; head: { seq: number } };
  assert.equal(intact.ok, true);
  assert.equal(intact.entries, intact.head.seq);

  const all = await skjold('audit', 'list', '--tenant', 'fjordnet');
  const actions = (JSON.parse(all.stdout) as Array<{ action: string }>).map((e) => e.action);
  assert.equal(actions[0], 'tenant.create');
  assert.equal(actions.at(-1), 'keys.rotate');
  const list = await skjold('audit', 'list', '--tenant', 'fjordnet', '--action', 'keys.rotate');
  const entries = JSON.parse(list.stdout) as Array<{ seq: number; action: string; detail: unknown }>;
  assert.deepEqual(
    entries.map((e) => [e.action, e.detail]),
    [['keys.rotate', { version: 2 }]],
  );

  const seq = entries[0]?.seq;
  await stack.skjold.registry.sql.query(`UPDATE audit_log SET detail = '{"version":3}' WHERE seq = $1`, [
    seq,
  ]);
  const broken = await skjold('audit', 'verify');
  assert.equal(broken.code, 1);
  const result = JSON.parse(broken.stdout) as {
    ok: boolean;
    problems: Array<{ seq: number; problem: string }>;
  };
  assert.equal(result.ok, false);
  assert.deepEqual(
    result.problems.map((p) => p.seq),
    [seq],
  );
});
