/**
 * Rotating a tenant's pseudonymisation key (Art. 4(5)): data written before
 * and after carries different pseudonyms, yet both lead to the same device,
 * and the key file stays private and free of identifiers.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { LOGIN_TYPE } from '../../registry/enrolment.ts';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';

const TENANT = 'rotation';
const OTHER = 'rotation-other';
const T0 = Date.now() - 3_600_000;

let stack: Stack;
let device: TestDevice;
let other: TestDevice;
let rotatedTo: number;

/** Readings with the given seqs; the last one also reports the device's own ICCID and IMEI in named fields. */
async function publishReadings(d: TestDevice, seqs: number[]): Promise<void> {
  // A new connection each time: the device context (and its key version) is fixed at CONNECT.
  const client = await connectDevice(stack.mqttUrl, d);
  try {
    for (const seq of seqs) {
      const own = seq === seqs.at(-1) ? { iccid: d.login, imei: d.identifiers.imei } : {};
      await publishAcked(
        client,
        d.telemetry,
        JSON.stringify({ ...validReading(d, seq, T0 + seq * 1000), ...own }),
      );
    }
  } finally {
    await client.endAsync();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

before(async () => {
  stack = await startStack();
  await addTenant(stack.api, TENANT);
  await addTenant(stack.api, OTHER);
  const ids = identifierSource('rotation');
  device = await addDevice(stack.api, ids, TENANT, 'sim_unit');
  other = await addDevice(stack.api, ids, OTHER, 'sim_unit');
  await publishReadings(device, range(0, 5));
  await publishReadings(other, range(0, 3));
  rotatedTo = (await stack.api.rotateKey(TENANT)).version;
  await publishReadings(device, range(5, 10));
  await publishReadings(other, range(3, 6));
  await stack.settled();
});
after(() => stack.stop());

const pseudonymsOf = (d: TestDevice) =>
  stack.skjold.pseudonymizer.allVersions(d.tenantId, LOGIN_TYPE[d.kind], d.login).map((p) => p.pseudonym);

test('rotation starts version 2 of that tenant’s key only', () => {
  assert.equal(rotatedTo, 2);
  assert.equal(stack.skjold.pseudonymizer.currentVersion(TENANT), 2);
  assert.equal(stack.skjold.pseudonymizer.currentVersion(OTHER), 1);
});

test('points before the rotation carry a v1 device pseudonym, points after a v2 one', async () => {
  const stored = await rows(stack.skjold.store, TENANT, 'SELECT seq, device FROM sim_unit');
  assert.equal(stored.length, 10);
  const [v1, v2] = pseudonymsOf(device);
  assert.ok(v1?.startsWith('v1.') && v2?.startsWith('v2.'), `${v1} ${v2}`);
  assert.equal(v1, device.pseudonym, 'v1 is the pseudonym given at registration');
  for (const r of stored) {
    assert.equal(r.device, Number(r.seq) < 5 ? v1 : v2, `seq ${r.seq}`);
  }
  const untouched = await rows(stack.skjold.store, OTHER, 'SELECT seq, device FROM sim_unit');
  assert.equal(untouched.length, 6);
  assert.ok(
    untouched.every((r) => r.device === other.pseudonym),
    'the other tenant still writes under v1',
  );
});

test('both pseudonyms resolve to the same registry device', async () => {
  const found = await stack.skjold.registry.findByPseudonyms(TENANT, pseudonymsOf(device));
  assert.deepEqual(
    found.map((d) => d.id),
    [device.id],
  );
  for (const p of pseudonymsOf(device)) {
    const one = await stack.skjold.registry.findByPseudonyms(TENANT, [p]);
    assert.deepEqual(
      one.map((d) => d.id),
      [device.id],
      `${p} alone finds the device`,
    );
  }
  const versions = (await stack.skjold.registry.pseudonymsOf(device.id)).filter((r) => r.idType === 'iccid');
  assert.deepEqual(
    versions.map((r) => r.keyVersion),
    [1, 2],
  );
});

test('the device’s own registered ICCID and IMEI in a payload are recognised as its own before and after the rotation', async () => {
  const stored = await rows(
    stack.skjold.store,
    TENANT,
    'SELECT seq, iccid_pseudonym, imei_pseudonym FROM sim_unit',
  );
  assert.equal(stored.length, 10);
  // Registered identifiers add nothing to a point that already names the device: dropped (art. 5(1)(c)).
  const kept = stored.flatMap((r) =>
    ['iccid_pseudonym', 'imei_pseudonym']
      .filter((f) => r[f] !== null && r[f] !== undefined)
      .map((f) => `seq ${r.seq}: ${f}=${r[f]}`),
  );
  assert.deepEqual(kept, [], 'own identifiers stored as extra pseudonym fields');
});

test('querying InfluxDB with every version’s pseudonym finds all readings', async () => {
  const where = pseudonymsOf(device)
    .map((p) => `device = '${p}'`)
    .join(' OR ');
  const stored = await rows(stack.skjold.store, TENANT, `SELECT seq FROM sim_unit WHERE ${where}`);
  assert.deepEqual(
    stored.map((r) => Number(r.seq)).sort((a, b) => a - b),
    range(0, 10),
  );
});

test('the key file has mode 0600, holds both versions and no raw identifier', async () => {
  const file = stack.config.SKJOLD_KEY_FILE;
  const st = await stat(file);
  assert.equal(st.mode & 0o777, 0o600, `mode ${(st.mode & 0o777).toString(8)}`);
  const text = await readFile(file, 'utf8');
  const keys = JSON.parse(text) as {
    tenants: Record<string, { current: number; keys: Record<string, string> }>;
  };
  assert.equal(keys.tenants[TENANT]?.current, 2);
  assert.deepEqual(Object.keys(keys.tenants[TENANT]?.keys ?? {}).sort(), ['1', '2']);
  for (const d of [device, other]) {
    for (const value of [d.login, d.secret, ...Object.values(d.identifiers)]) {
      assert.ok(value && !text.includes(value), `${value} in the key file`);
      const digits = value.replace(/\D/g, '');
      if (digits.length >= 8) assert.ok(!text.includes(digits), `${digits} in the key file`);
    }
  }
});
