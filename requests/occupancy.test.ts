/**
 * Occupancy periods against a real InfluxDB and PGlite: a heat meter with
 * three occupants in turn. Each occupant's export holds exactly the points of
 * their own period; a move-out keeps the meter's register as a billing
 * reading; erasing the middle occupant deletes only that period's points and
 * leaves the first and third occupants' points, the billing readings and the
 * device in InfluxDB's index; an overlapping period is refused.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LOGIN_TYPE } from '../registry/enrolment.ts';
import { BILLING_MEASUREMENT, moveOutLabel } from '../retention/billing.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from '../test/e2e/devices.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken, operator } from '../test/harness/tenant-api.ts';
import { createSealer } from './sealing.ts';

const A = 'fjernvarme';
const Q = 900_000;
// Whole hours, a day back: every reading and every move lies in the past.
const T0 = Math.floor((Date.now() - 24 * 3_600_000) / 3_600_000) * 3_600_000;
const at = (i: number) => new Date(T0 + i * Q).toISOString();
const READINGS = 12;
// Occupant 1 until reading 4, occupant 2 from 4 until 8, occupant 3 from 8 on.
const OCCUPANTS = [
  { ref: 'kunde-1', points: [0, 1, 2, 3] },
  { ref: 'kunde-2', points: [4, 5, 6, 7] },
  { ref: 'kunde-3', points: [8, 9, 10, 11] },
] as const;

let stack: Stack;
let token: string;
let meter: TestDevice;
const moveOuts: Array<{ billingReading: { time: string; energy_kwh: number } | null }> = [];

const pseudonymsOf = (d: TestDevice) =>
  stack.skjold.pseudonymizer.allVersions(d.tenantId, LOGIN_TYPE[d.kind], d.login).map((p) => p.pseudonym);
const pseudonymOfSubject = (ref: string) => createSealer(stack.skjold.keyStore).subjectPseudonym(A, ref);
const link = (ref: string, body: Record<string, unknown>) =>
  callAs(stack, token, 'PUT', `/tenant/v1/subjects/${ref}/devices`, { deviceId: meter.id, ...body });
const moveOut = (ref: string, when: string) =>
  callAs(stack, token, 'POST', `/tenant/v1/subjects/${ref}/devices/${meter.id}/move-out`, { at: when });

async function meterTimes(): Promise<string[]> {
  const where = pseudonymsOf(meter)
    .map((p) => `device = '${p}'`)
    .join(' OR ');
  const found = await rows(stack.skjold.store, A, `SELECT energy_kwh FROM heat_meter WHERE ${where}`);
  return found.map((r) => new Date(r.time as string | number).toISOString()).sort();
}

async function exportOf(ref: string) {
  const res = await callAs(stack, token, 'GET', `/tenant/v1/subjects/${ref}/export?format=json`);
  assert.equal(res.status, 200, res.body);
  return res.json<{
    telemetry: Array<{ measurement: string; time: string; deviceId: string }>;
    summary: { points: number };
    information: { periods: Array<{ device: string; from: string | null; to: string | null }> };
  }>();
}

before(async () => {
  stack = await startStack();
  await addTenant(stack.api, A);
  meter = await addDevice(stack.api, identifierSource('occupancy'), A, 'heat_meter');
  token = (await issueToken(stack, A, ALL_SCOPES)).token;
  const client = await connectDevice(stack.mqttUrl, meter);
  try {
    for (let i = 0; i < READINGS; i++) {
      await publishAcked(client, meter.telemetry, JSON.stringify(validReading(meter, i, T0 + i * Q)));
    }
  } finally {
    await client.endAsync();
  }

  // Occupant 1 had lived there for a while; 2 and 3 move in on the day the one before moves out.
  assert.equal(
    (await link('kunde-1', { from: new Date(T0 - 86_400_000).toISOString().slice(0, 10) })).status,
    200,
  );
  for (const [i, next] of [
    [4, 'kunde-2'],
    [8, 'kunde-3'],
  ] as const) {
    const prev = i === 4 ? 'kunde-1' : 'kunde-2';
    const out = await moveOut(prev, at(i));
    assert.equal(out.status, 200, out.body);
    moveOuts.push(out.json());
    assert.equal((await link(next, { from: at(i) })).status, 200);
  }
});
after(() => stack?.stop());

test('the meter holds all twelve readings and each occupant has one period', async () => {
  assert.equal((await meterTimes()).length, READINGS);
  const periods = await stack.skjold.registry.devicePeriods(A, meter.id);
  assert.deepEqual(
    periods.map((p) => [p.subjectRef, p.to]),
    [
      ['kunde-1', at(4)],
      ['kunde-2', at(8)],
      ['kunde-3', null],
    ],
  );
});

test('each occupant’s export holds exactly the points of their own period, and the information lists the period', async () => {
  for (const o of OCCUPANTS) {
    const doc = await exportOf(o.ref);
    const times = doc.telemetry.filter((r) => r.measurement === 'heat_meter').map((r) => r.time);
    assert.deepEqual(times.sort(), o.points.map(at), o.ref);
    assert.equal(doc.summary.points, doc.telemetry.length);
    // A billing reading is the occupant's too when it falls in their period: kunde-1's move-out reading.
    const billing = doc.telemetry.filter((r) => r.measurement === BILLING_MEASUREMENT).map((r) => r.time);
    assert.deepEqual(billing, o.ref === 'kunde-1' ? [at(3)] : o.ref === 'kunde-2' ? [at(7)] : [], o.ref);
    assert.equal(doc.information.periods.length, 1, o.ref);
    assert.equal(doc.information.periods[0]?.device, meter.id);
  }
  const view = await callAs(stack, token, 'GET', '/tenant/v1/subjects/kunde-2');
  assert.deepEqual(view.json<{ devices: Array<{ periods: unknown }> }>().devices[0]?.periods, [
    { from: at(4), to: at(8) },
  ]);
  const second = await exportOf('kunde-2');
  assert.deepEqual(second.information.periods[0], { device: meter.id, from: at(4), to: at(8) });
});

test('an overlapping period is refused with a conflict naming the occupant by pseudonym only', async () => {
  const inside = await link('kunde-4', { from: at(5), to: at(6) });
  assert.equal(inside.status, 409);
  const body = inside.json<{ code: string; message: string }>();
  assert.equal(body.code, 'SKJOLD_ERR_CONFLICT');
  assert.ok(body.message.includes(pseudonymOfSubject('kunde-2')), body.message);
  assert.ok(body.message.includes(at(4)) && body.message.includes(at(8)), 'the overlapping period is named');
  assert.ok(!body.message.includes('kunde-2'), 'the other occupant’s ref is not revealed');
  // Open-ended (the whole history) overlaps everyone; so does a period reaching into the open one.
  assert.equal((await link('kunde-4', {})).status, 409);
  assert.equal((await link('kunde-4', { from: at(11), to: at(20) })).status, 409);
  // The operator's route enforces the same rule.
  const op = await callAs(stack, operator(stack), 'PUT', `/v1/tenants/${A}/subjects/kunde-4/devices`, {
    deviceId: meter.id,
    from: at(7),
  });
  assert.equal(op.status, 409);
  // Periods that only touch (one ends where the next begins) are not overlaps; a period must end after it starts.
  assert.equal(
    (await link('kunde-4', { to: at(-4) })).status,
    409,
    'kunde-1 lived there from the day before',
  );
  assert.equal((await link('kunde-4', { from: at(3), to: at(2) })).status, 400);
  assert.deepEqual(await stack.skjold.registry.subjectPeriods(A, 'kunde-4'), [], 'nothing was linked');
  const subject = await stack.skjold.registry.sql.query(
    'SELECT 1 FROM subjects WHERE tenant_id = $1 AND ref = $2',
    [A, 'kunde-4'],
  );
  assert.deepEqual(subject, [], 'a refused link leaves no empty subject');
});

test('a move-out keeps the meter’s register at the move as a billing reading', async () => {
  const readings = await rows(
    stack.skjold.store,
    A,
    `SELECT energy_kwh, volume_m3 FROM ${BILLING_MEASUREMENT} WHERE period =~ /^move-out/`,
  );
  assert.equal(readings.length, 2);
  const stored = await rows(
    stack.skjold.store,
    A,
    `SELECT energy_kwh FROM heat_meter WHERE time = ${BigInt(T0 + 3 * Q) * 1_000_000n}`,
  );
  assert.equal(moveOuts[0]?.billingReading?.time, at(3), 'the last reading before the move');
  assert.equal(moveOuts[0]?.billingReading?.energy_kwh, stored[0]?.energy_kwh);
  assert.equal(moveOuts[1]?.billingReading?.time, at(7));
  const labels = await rows(
    stack.skjold.store,
    A,
    `SHOW TAG VALUES FROM ${BILLING_MEASUREMENT} WITH KEY = "period"`,
  );
  assert.ok(labels.some((r) => r.value === moveOutLabel(new Date(T0 + 4 * Q))));
  // A second move-out of the same occupant finds no open period; a move in the future is refused.
  assert.equal((await moveOut('kunde-1', at(5))).status, 404);
  assert.equal((await moveOut('kunde-3', new Date(Date.now() + 86_400_000).toISOString())).status, 400);
});

test('erasing the middle occupant deletes only their period and keeps the others’ points and the billing readings', async () => {
  const billingBefore = (await rows(stack.skjold.store, A, `SELECT * FROM ${BILLING_MEASUREMENT}`)).length;
  const res = await callAs(stack, token, 'POST', '/tenant/v1/subjects/kunde-2/erase', {});
  assert.equal(res.status, 200, res.body);
  const receipt = res.json<{
    deleted: {
      devices: string[];
      periods: Array<{ device: string; from: string; to: string; points: number }>;
      before: { points: number };
      after: { points: number };
      series: string[];
      registry: { links: number; sealedIdentifiers: number; subject: boolean };
    };
    kept: Array<{
      what: string;
      article: string;
      periods?: Array<{ device: string; from: string | null; to: string | null }>;
      points?: number;
      billing?: { readings: number };
    }>;
  }>();
  assert.deepEqual(receipt.deleted.periods, [{ device: meter.id, from: at(4), to: at(8), points: 4 }]);
  assert.equal(receipt.deleted.before.points, 4);
  assert.equal(receipt.deleted.after.points, 0);
  assert.deepEqual(receipt.deleted.series, [], 'the series stays: others’ readings are in it');
  assert.equal(receipt.deleted.registry.links, 1);
  assert.equal(
    receipt.deleted.registry.sealedIdentifiers,
    0,
    'the meter’s identifiers stay for its occupants',
  );
  assert.equal(receipt.deleted.registry.subject, true);
  const others = receipt.kept.find((k) => k.periods);
  assert.ok(others, 'the other occupants’ periods are named as kept');
  assert.deepEqual(
    others.periods?.map((p) => [p.from, p.to]),
    [
      [`${new Date(T0 - 86_400_000).toISOString().slice(0, 10)}T00:00:00.000Z`, at(4)],
      [at(8), null],
    ],
  );
  assert.equal(others.points, 8);
  assert.ok(!res.body.includes('kunde-1') && !res.body.includes('kunde-3'), 'no other subject is named');
  const billing = receipt.kept.find((k) => k.billing);
  assert.ok(billing?.billing && billing.billing.readings >= 1);
  assert.match(billing.article, /17\(3\)\(b\)/);

  // InfluxDB agrees: the first and third occupants' readings are all there, the middle's are gone.
  assert.deepEqual(await meterTimes(), [...OCCUPANTS[0].points, ...OCCUPANTS[2].points].map(at));
  const billingAfter = await rows(stack.skjold.store, A, `SELECT * FROM ${BILLING_MEASUREMENT}`);
  assert.ok(billingAfter.length >= billingBefore, 'no billing reading was deleted');
  assert.equal(billingAfter.filter((r) => String(r.period).startsWith('move-out')).length, 2);
  const tagValues = await rows(stack.skjold.store, A, 'SHOW TAG VALUES FROM heat_meter WITH KEY = "device"');
  assert.ok(
    tagValues.some((r) => pseudonymsOf(meter).includes(String(r.value))),
    'the device stays listed while others’ data remains',
  );

  for (const o of [OCCUPANTS[0], OCCUPANTS[2]]) {
    const doc = await exportOf(o.ref);
    const times = doc.telemetry.filter((r) => r.measurement === 'heat_meter').map((r) => r.time);
    assert.deepEqual(times.sort(), o.points.map(at), `${o.ref} after the erasure`);
  }
  const gone = await callAs(stack, token, 'GET', '/tenant/v1/subjects/kunde-2/export');
  assert.equal(gone.status, 404);
});

test('erasing the last occupant of a device with nothing else left drops its series', async () => {
  const sim = await addDevice(stack.api, identifierSource('occupancy-sim'), A, 'sim_unit');
  const client = await connectDevice(stack.mqttUrl, sim);
  try {
    for (let i = 0; i < 3; i++)
      await publishAcked(client, sim.telemetry, JSON.stringify(validReading(sim, i, T0 + i * Q)));
  } finally {
    await client.endAsync();
  }
  const linked = await callAs(stack, token, 'PUT', '/tenant/v1/subjects/ansat-7/devices', {
    deviceId: sim.id,
    from: at(0),
  });
  assert.equal(linked.status, 200);
  const res = await callAs(stack, token, 'POST', '/tenant/v1/subjects/ansat-7/erase', {});
  assert.equal(res.status, 200, res.body);
  const receipt = res.json<{
    deleted: { series: string[]; before: { points: number }; indexAfter: string[] };
  }>();
  assert.equal(receipt.deleted.before.points, 3);
  assert.deepEqual(receipt.deleted.series, [sim.id]);
  assert.deepEqual(receipt.deleted.indexAfter, []);
  const listed = await rows(stack.skjold.store, A, 'SHOW TAG VALUES WITH KEY = "device"');
  for (const p of pseudonymsOf(sim)) assert.ok(!listed.some((r) => r.value === p), `${p} left the index`);
});
