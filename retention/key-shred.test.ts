/**
 * Crypto-shredding through the operator API and the CLI of a running Skjold
 * (real InfluxDB, PGlite): `keys destroy` refuses the current version and
 * names every hold, open request and retention that still needs an old one;
 * once nothing does, the key and the version's pseudonym mappings are gone,
 * sealed values under it read as shredded, and it is on the audit record.
 * A retention run with `shredKeysAfterRetention` destroys what it no longer needs.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { createSealer, SHREDDED } from '../requests/sealing.ts';
import {
  addDevice,
  addTenant,
  closed,
  connectDevice,
  identifierSource,
  publishAcked,
  validReading,
  withDeadline,
} from '../test/e2e/devices.ts';
import { runCli } from '../test/harness/cli.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken, operator } from '../test/harness/tenant-api.ts';
import type { KeyNeeds } from './key-needs.ts';
import type { RetentionReport } from './retention.ts';

const TENANT = 'shredvarme';
const RUN_TENANT = 'shredrun';
const LIVE_TENANT = 'shredlive';
const METER_TENANT = 'shredmeter';
const GONE_TENANT = 'shredgone';
const LIVE_METER = 'KAM20000001';
const OLD_METER = 'KAM20000002';
let now = new Date('2025-06-01T12:00:00Z');
let stack: Stack;
let tenantToken: string;
const devices: Record<'live' | 'old', { id: string; pseudonym: string }> = {
  live: { id: '', pseudonym: '' },
  old: { id: '', pseudonym: '' },
};
let releasedHold = '';

const asOperator = (method: string, path: string, body?: unknown) =>
  callAs(stack, operator(stack), method, path, body);
const asTenant = (method: string, path: string, body?: unknown) =>
  callAs(stack, tenantToken, method, path, body);
const destroy = (tenant: string, version: number) =>
  asOperator('POST', `/v1/tenants/${tenant}/keys/${version}/destroy`, {});

async function needsOfV1(): Promise<KeyNeeds> {
  const res = await destroy(TENANT, 1);
  assert.equal(res.status, 409, res.body);
  const body = res.json<{ code: string; needs: KeyNeeds }>();
  assert.equal(body.code, 'SKJOLD_ERR_KEY_IN_USE');
  return body.needs;
}

const v1Rows = () =>
  stack.skjold.registry.sql.query<{ pseudonym: string }>(
    `SELECT p.pseudonym FROM device_pseudonyms p JOIN devices d ON d.id = p.device_id
     WHERE d.tenant_id = $1 AND p.key_version = 1`,
    [TENANT],
  );

function contract(id: string, startsOn: string, endsOn: string | null) {
  return {
    id,
    role: 'processor' as const,
    purpose: 'district heating',
    legalBasis: 'contract' as const,
    startsOn,
    endsOn,
    jurisdiction: 'DK' as const,
  };
}

before(async () => {
  stack = await startStack({}, { skjold: { clock: () => now } });
  await stack.api.createTenant({ id: TENANT, name: 'Shredvarme' });
  await stack.api.createContract(TENANT, contract('old', '2020-01-01', '2020-12-31'));
  await stack.api.createContract(TENANT, contract('live', '2024-01-01', null));
  for (const [which, wmbus] of [
    ['live', LIVE_METER],
    ['old', OLD_METER],
  ] as const) {
    devices[which] = await stack.api.addDevice(TENANT, {
      kind: 'heat_meter',
      contractId: which,
      identifiers: { wmbus },
    } as Parameters<typeof stack.api.addDevice>[1]);
  }
  tenantToken = (await issueToken(stack, TENANT, ALL_SCOPES)).token;
  // Under version 1: the subject's device identifiers (sealed) and a hold long released.
  const linked = await asTenant('PUT', '/tenant/v1/subjects/cust-1/devices', {
    identifiers: { wmbus: LIVE_METER },
  });
  assert.equal(linked.status, 200, linked.body);
  const note = await asTenant('POST', '/tenant/v1/subjects/cust-1/special-category', {
    category: 'vulnerable consumer',
    note: 'warn before the heat is cut off: oxygen concentrator',
    consent: { givenAt: '2025-05-01T10:00:00Z', text: 'I agree that my health note is kept' },
  });
  assert.equal(note.status, 201, note.body);
  const hold = await asOperator('POST', `/v1/tenants/${TENANT}/holds`, {
    scope: 'device',
    target: devices.old.id,
    reason: 'meter dispute with a named customer',
  });
  releasedHold = hold.json<{ id: string }>().id;
  await asOperator('POST', `/v1/tenants/${TENANT}/holds/${releasedHold}/release`, {});
  assert.equal((await stack.api.rotateKey(TENANT)).version, 2);

  // Telemetry under version 1 for both contracts, and a billing reading bookkeeping keeps.
  const points: Point[] = [];
  for (let i = 0; i < 10; i++) {
    points.push({
      measurement: 'heat_meter',
      tags: { tenant: TENANT, device: devices.live.pseudonym, contract: 'live' },
      fields: { energy_kwh: 100 + i, volume_m3: 1 },
      timestampMs: Date.UTC(2024, 4, 1) + i * 3_600_000,
    });
    points.push({
      measurement: 'heat_meter',
      tags: { tenant: TENANT, device: devices.old.pseudonym, contract: 'old' },
      fields: { energy_kwh: 200 + i, volume_m3: 2 },
      timestampMs: Date.UTC(2020, 5, 1) + i * 3_600_000,
    });
  }
  points.push({
    measurement: 'billing_reading',
    tags: { device: devices.old.pseudonym, contract: 'old', period: '2020-12' },
    fields: { energy_kwh: 209, volume_m3: 2 },
    timestampMs: Date.UTC(2020, 11, 31),
  });
  await stack.skjold.store.write(TENANT, points);
});
after(() => stack.stop());

test('the current key version is refused (rotate first), a version never made is not found', async () => {
  const current = await destroy(TENANT, 2);
  assert.equal(current.status, 409);
  assert.equal(current.json().code, 'SKJOLD_ERR_KEY_CURRENT');
  const none = await destroy(TENANT, 7);
  assert.equal(none.status, 404);
  assert.equal(none.json().code, 'SKJOLD_ERR_KEY_VERSION');
  const cli = await runCli(stack, 'keys', 'destroy', '--tenant', TENANT, '--version', '2');
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /SKJOLD_ERR_KEY_CURRENT.*rotate first/);
});

test('a refusal names the active hold, the open request and the contracts whose retention needs the version', async () => {
  const hold = await asOperator('POST', `/v1/tenants/${TENANT}/holds`, {
    scope: 'device',
    target: devices.live.id,
    reason: 'complaint under review',
  });
  assert.equal(hold.status, 201, hold.body);
  const holdId = hold.json<{ id: string }>().id;
  const filed = await asTenant('POST', '/tenant/v1/requests', { subjectRef: 'cust-1', kind: 'access' });
  assert.equal(filed.status, 201, filed.body);
  const requestId = filed.json<{ id: string }>().id;

  assert.deepEqual(await needsOfV1(), {
    holds: [holdId],
    // Filed under version 2, but its subject's device has data under version 1.
    requests: [requestId],
    retention: [
      { contractId: 'live', data: 'telemetry', until: null },
      // DK: five years from the end of the fiscal year 2020.
      { contractId: 'old', data: 'billing', until: '2026-01-01' },
    ],
  });
  const cli = await runCli(stack, 'keys', 'destroy', '--tenant', TENANT, '--version', '1');
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /SKJOLD_ERR_KEY_IN_USE/);
  for (const named of [holdId, requestId, 'contract live: telemetry kept while the contract runs']) {
    assert.ok(cli.stderr.includes(named), `${named} in: ${cli.stderr}`);
  }
  assert.equal((await v1Rows()).length, 2, 'nothing removed');
  assert.deepEqual(stack.skjold.keyStore.versions(TENANT), [1, 2]);

  // Each reason goes away on its own.
  await asOperator('POST', `/v1/tenants/${TENANT}/holds/${holdId}/release`, {});
  assert.deepEqual((await needsOfV1()).holds, []);
  const exported = await asTenant('GET', `/tenant/v1/subjects/cust-1/export?request=${requestId}`);
  assert.equal(exported.status, 200, exported.body);
  assert.deepEqual((await needsOfV1()).requests, []);
  await asOperator('PUT', `/v1/tenants/${TENANT}/contracts/live/end`, { endsOn: '2025-01-31' });
  assert.deepEqual((await needsOfV1()).retention, [
    { contractId: 'live', data: 'telemetry', until: '2026-02-01' },
    { contractId: 'old', data: 'billing', until: '2026-01-01' },
  ]);
});

test('once nothing needs it, `skjold keys destroy` removes the key and every pseudonym mapping under it', async () => {
  now = new Date('2026-03-01T12:00:00Z');
  const cli = await runCli(stack, 'keys', 'destroy', '--tenant', TENANT, '--version', '1');
  assert.equal(cli.code, 0, cli.stderr);
  const receipt = JSON.parse(cli.stdout) as Record<string, unknown>;
  assert.equal(receipt.keyDestroyed, true);
  assert.equal(receipt.pseudonymsRemoved, 2);
  assert.deepEqual(receipt.shredded, { identifiers: 1, specialCategoryNotes: 1, legalHolds: 1 });

  // The old pseudonyms lead to no device.
  assert.deepEqual(await v1Rows(), []);
  const found = await stack.skjold.registry.findByPseudonyms(TENANT, [
    devices.live.pseudonym,
    devices.old.pseudonym,
  ]);
  assert.deepEqual(found, []);
  // The key is gone from the key file and from memory, cached pseudonyms with it.
  const file = JSON.parse(await readFile(stack.config.SKJOLD_KEY_FILE, 'utf8')) as {
    tenants: Record<string, { keys: Record<string, string> }>;
  };
  assert.deepEqual(Object.keys(file.tenants[TENANT]?.keys ?? {}), ['2']);
  assert.deepEqual(stack.skjold.keyStore.versions(TENANT), [2]);
  assert.throws(
    () => stack.skjold.pseudonymizer.pseudonym(TENANT, 'wmbus', LIVE_METER, 1),
    (err) => isSkjoldError(err, 'SKJOLD_ERR_KEY_VERSION'),
  );
  // The device still has its v2 pseudonym computed afresh: a different one.
  assert.notEqual(stack.skjold.pseudonymizer.pseudonym(TENANT, 'wmbus', LIVE_METER), devices.live.pseudonym);
  // Again: nothing is left of version 1.
  assert.equal((await destroy(TENANT, 1)).status, 404);
});

test('sealed values under the destroyed version no longer open and read as shredded', async () => {
  const [row] = await stack.skjold.registry.sql.query<{ sealed: string }>(
    'SELECT sealed FROM sealed_identifiers WHERE device_id = $1',
    [devices.live.id],
  );
  const sealed = row?.sealed ?? '';
  assert.ok(sealed.startsWith('v1.'), 'sealed under version 1');
  const sealer = createSealer(stack.skjold.keyStore);
  assert.throws(() => sealer.unseal(TENANT, `device:${devices.live.id}:wmbus`, sealed));

  const exported = await asTenant('GET', '/tenant/v1/subjects/cust-1/export');
  assert.equal(exported.status, 200, exported.body);
  const body = exported.json<{
    devices: Array<{ deviceId: string; identifiers?: Record<string, string> }>;
  }>();
  assert.deepEqual(body.devices.find((d) => d.deviceId === devices.live.id)?.identifiers, {
    wmbus: SHREDDED,
  });
  assert.ok(!exported.body.includes(LIVE_METER), 'the raw identifier is in the export');
  assert.ok(!exported.body.includes('oxygen'), 'the special-category note is in the export');
  assert.match(exported.body, /"note":"\[shredded\]"/);
  assert.ok(!exported.body.includes(devices.live.pseudonym), 'a destroyed pseudonym is in the export');

  const holds = await asOperator('GET', `/v1/tenants/${TENANT}/holds`);
  assert.equal(holds.status, 200, holds.body);
  const old = holds.json<unknown>() as Array<{ id: string; reason: string }>;
  assert.equal(old.find((h) => h.id === releasedHold)?.reason, SHREDDED);
});

test('the destruction is on the keyed audit record, which still verifies', async () => {
  const rows = await stack.skjold.registry.sql.query<{ actor: string; target: string; detail: string }>(
    `SELECT actor, target, detail FROM audit_log WHERE tenant_id = $1 AND action = 'keys.destroy'`,
    [TENANT],
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.actor, 'operator');
  assert.equal(rows[0]?.target, 'v1');
  assert.deepEqual(JSON.parse(rows[0]?.detail ?? '{}'), {
    version: 1,
    keyDestroyed: true,
    pseudonymsRemoved: 2,
    shredded: { identifiers: 1, specialCategoryNotes: 1, legalHolds: 1 },
  });
  const verify = await asOperator('GET', '/v1/audit/verify');
  assert.equal(verify.status, 200, verify.body);
});

test('a retention run with shredKeysAfterRetention destroys the old versions it no longer needs', async () => {
  await stack.api.createTenant({ id: RUN_TENANT, name: 'Shredrun' });
  await stack.api.createContract(RUN_TENANT, contract('ended', '2020-01-01', '2020-12-31'));
  const sensor = await stack.api.addDevice(RUN_TENANT, {
    kind: 'building_sensor',
    contractId: 'ended',
    identifiers: { serial: 'BS-SHRED-0001' },
    area: 'Postnr 8000',
  } as Parameters<typeof stack.api.addDevice>[1]);
  await stack.api.rotateKey(RUN_TENANT);
  await stack.skjold.store.write(RUN_TENANT, [
    {
      measurement: 'building_sensor',
      tags: { tenant: RUN_TENANT, device: sensor.pseudonym, contract: 'ended' },
      fields: { temperature_c: 21 },
      timestampMs: Date.UTC(2020, 5, 1),
    },
  ]);
  const policy = await asOperator('PUT', `/v1/tenants/${RUN_TENANT}/contracts/ended/retention`, {
    telemetryAction: 'anonymise',
    anonymiseK: 5,
    shredKeysAfterRetention: true,
  });
  assert.equal(policy.status, 200, policy.body);

  const plan = await asOperator('GET', `/v1/retention/plan?tenant=${RUN_TENANT}`);
  const [planned] = plan.json<{ plans: RetentionReport[] }>().plans;
  assert.deepEqual(planned?.keys, { destroyed: [1], kept: [] });
  assert.deepEqual(stack.skjold.keyStore.versions(RUN_TENANT), [1, 2], 'a plan changes nothing');

  const run = await runCli(stack, 'retention', 'run', '--tenant', RUN_TENANT);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /key versions destroyed: 1/);
  assert.deepEqual(stack.skjold.keyStore.versions(RUN_TENANT), [2]);
  assert.deepEqual(await stack.skjold.registry.findByPseudonyms(RUN_TENANT, [sensor.pseudonym]), []);
  const [entry] = await stack.skjold.registry.sql.query<{ actor: string; detail: string }>(
    `SELECT actor, detail FROM audit_log WHERE tenant_id = $1 AND action = 'keys.destroy'`,
    [RUN_TENANT],
  );
  assert.equal(entry?.actor, 'retention');
  assert.match(entry?.detail ?? '', /"runId":"run-/);
});

test('a run keeps a version its own billing readings carry, and its plan says so beforehand', async () => {
  await stack.api.createTenant({ id: METER_TENANT, name: 'Shredmeter' });
  await stack.api.createContract(METER_TENANT, contract('metered', '2024-01-01', '2024-06-30'));
  const meter = await stack.api.addDevice(METER_TENANT, {
    kind: 'heat_meter',
    contractId: 'metered',
    identifiers: { wmbus: 'KAM20000003' },
    area: 'Vestergade 1-9',
  } as Parameters<typeof stack.api.addDevice>[1]);
  await stack.api.rotateKey(METER_TENANT);
  await stack.skjold.store.write(
    METER_TENANT,
    [0, 1, 2].map((i) => ({
      measurement: 'heat_meter',
      tags: { tenant: METER_TENANT, device: meter.pseudonym, contract: 'metered' },
      fields: { energy_kwh: 500 + i, volume_m3: 5 },
      timestampMs: Date.UTC(2024, 5, 10 + i),
    })),
  );
  const policy = await asOperator('PUT', `/v1/tenants/${METER_TENANT}/contracts/metered/retention`, {
    telemetryAction: 'anonymise',
    graceMonths: 0,
    shredKeysAfterRetention: true,
  });
  assert.equal(policy.status, 200, policy.body);
  // DK: the June 2024 reading is kept five years from the end of fiscal year 2024.
  const kept = {
    destroyed: [],
    kept: [{ version: 1, reason: 'contract metered: billing kept until 2030-01-01' }],
  };
  const plan = await asOperator('GET', `/v1/retention/plan?tenant=${METER_TENANT}`);
  assert.deepEqual(plan.json<{ plans: RetentionReport[] }>().plans[0]?.keys, kept);
  const run = await asOperator('POST', `/v1/retention/run?tenant=${METER_TENANT}`, {});
  assert.equal(run.status, 200, run.body);
  const [receipt] = run.json<{ receipts: RetentionReport[] }>().receipts;
  assert.equal(receipt?.contracts[0]?.billing.readingsKept, 1);
  assert.deepEqual(receipt?.keys, kept);
  assert.deepEqual(stack.skjold.keyStore.versions(METER_TENANT), [1, 2]);
});

test('a device connected under the destroyed version is disconnected and writes under the current one after it reconnects', async () => {
  await addTenant(stack.api, LIVE_TENANT);
  const device = await addDevice(stack.api, identifierSource(LIVE_TENANT), LIVE_TENANT, 'sim_unit');
  const before = await connectDevice(stack.mqttUrl, device);
  const gone = closed(before);
  await stack.api.rotateKey(LIVE_TENANT);
  // Connected under version 1 and silent: nothing stored needs version 1.
  const res = await destroy(LIVE_TENANT, 1);
  assert.equal(res.status, 200, res.body);
  await withDeadline(gone, 10_000, 'the connection made under the destroyed key closing');

  const after = await connectDevice(stack.mqttUrl, device);
  try {
    await publishAcked(after, device.telemetry, JSON.stringify(validReading(device, 1)));
  } finally {
    await after.endAsync();
  }
  await stack.settled();
  const stored = await rows(stack.skjold.store, LIVE_TENANT, 'SELECT seq, device FROM sim_unit');
  assert.equal(stored.length, 1);
  const tag = String(stored[0]?.device);
  assert.ok(tag.startsWith('v2.'), tag);
  const found = await stack.skjold.registry.findByPseudonyms(LIVE_TENANT, [tag]);
  assert.deepEqual(
    found.map((d) => d.id),
    [device.id],
  );
});

test('a version whose key is already gone (removed from SKJOLD_KEYS) has its registry mappings removed by keys destroy', async () => {
  await addTenant(stack.api, GONE_TENANT);
  const device = await addDevice(stack.api, identifierSource(GONE_TENANT), GONE_TENANT, 'building_sensor');
  await stack.api.rotateKey(GONE_TENANT);
  // What an instance restarted with the value keys-env.ts --destroy printed sees: no version 1.
  await stack.skjold.keyStore.destroy(GONE_TENANT, 1);
  assert.deepEqual(
    (await stack.skjold.registry.findByPseudonyms(GONE_TENANT, [device.pseudonym])).map((d) => d.id),
    [device.id],
    'the registry still maps the old pseudonym',
  );
  const res = await destroy(GONE_TENANT, 1);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.json().keyDestroyed, false);
  assert.equal(res.json().pseudonymsRemoved, 1);
  assert.deepEqual(await stack.skjold.registry.findByPseudonyms(GONE_TENANT, [device.pseudonym]), []);
  assert.equal((await destroy(GONE_TENANT, 1)).status, 404);
});
