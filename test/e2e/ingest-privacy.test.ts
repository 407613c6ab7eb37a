/**
 * Privacy decisions ingest makes per point, end to end (real aedes, influxd,
 * PGlite): a subject's objection or consent withdrawal stops storage for the
 * purpose (acknowledged, counted, shown in fleet health) until it is lifted;
 * restriction keeps storing; GPS kept only as the centre of the contract's
 * grid cell, or not at all.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { FleetHealthReport } from '../../fleet/report.ts';
import { snapToGrid } from '../../ingest/gps-grid.ts';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { callAs, issueToken, operator } from '../harness/tenant-api.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  endAll,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';
import { metric } from './metrics.ts';

const T = 'fjernvarme-vest';
const HEAT = 'heat_meter telemetry'; // the purpose of addTenant's heat meter contract
const SENSORS = 'building_sensor telemetry';
let stack: Stack;
let token: string;
const clients: MqttClient[] = [];

before(async () => {
  stack = await startStack();
  await addTenant(stack.api, T);
  token = (await issueToken(stack, T, ['subjects:write', 'subjects:export'])).token;
});
after(async () => {
  await endAll(clients);
  await stack.stop();
});

async function online(device: TestDevice): Promise<MqttClient> {
  const client = await connectDevice(stack.mqttUrl, device);
  clients.push(client);
  return client;
}

/** POST as the tenant, expecting 200. */
async function tenantPost(path: string, body: unknown = {}): Promise<Record<string, unknown>> {
  const res = await callAs(stack, token, 'POST', `/tenant/v1/subjects/${path}`, body);
  assert.equal(res.status, 200, res.body);
  return res.json();
}

async function link(ref: string, device: TestDevice): Promise<void> {
  const res = await callAs(stack, token, 'PUT', `/tenant/v1/subjects/${ref}/devices`, {
    deviceId: device.id,
  });
  assert.equal(res.status, 200, res.body);
}

/** The `seq` of every point stored for the device, ascending. */
async function storedSeqs(device: TestDevice): Promise<number[]> {
  // Acknowledged means durable in the spool; the store has it once the transport has drained.
  await stack.settled();
  const found = await rows(
    stack.skjold.store,
    T,
    `SELECT seq FROM ${device.kind} WHERE device = '${device.pseudonym}'`,
  );
  return found.map((r) => Number(r.seq)).sort((a, b) => a - b);
}

async function send(client: MqttClient, device: TestDevice, seqs: number[]): Promise<void> {
  // Every message gets its PUBACK, dropped or not: the device has nothing to resend.
  for (const seq of seqs)
    await publishAcked(client, device.telemetry, JSON.stringify(validReading(device, seq)));
}

const dropped = (reason: string) => metric(stack.apiUrl, 'skjold_ingest_dropped_total', { reason });

async function fleetDroppedPoints(reason: string): Promise<number> {
  const res = await callAs(stack, operator(stack), 'GET', `/v1/fleet/health?tenant=${T}`);
  assert.equal(res.status, 200, res.body);
  return res.json<FleetHealthReport>().dropped.points.find((p) => p.reason === reason)?.count ?? 0;
}

test('an objection stops storage of the subject’s readings for the purpose, counted; lifting it resumes storage', async () => {
  const ids = identifierSource(`${T}-objection`);
  const mine = await addDevice(stack.api, ids, T, 'heat_meter');
  const neighbour = await addDevice(stack.api, ids, T, 'heat_meter');
  await link('kunde-1', mine);
  await link('kunde-2', neighbour);
  const [c1, c2] = [await online(mine), await online(neighbour)];
  await send(c1, mine, [0]);
  await send(c2, neighbour, [0]);

  await tenantPost('kunde-1/object', { purpose: HEAT });
  // An objection to another purpose leaves the heat meter's readings alone.
  await tenantPost('kunde-2/object', { purpose: 'operator_statistics' });
  const countedBefore = await dropped('objection');
  const queries = countRegistryQueries();
  await send(c1, mine, [1, 2, 3]);
  await send(c2, neighbour, [1, 2, 3]);
  assert.ok(
    queries.stop() <= 1,
    'objections are looked up in memory, not per message (one timed re-read at most)',
  );

  assert.deepEqual(await storedSeqs(mine), [0], 'nothing stored after the objection');
  assert.deepEqual(await storedSeqs(neighbour), [0, 1, 2, 3], 'other devices go on');
  assert.equal((await dropped('objection')) - countedBefore, 3);
  assert.equal(await dropped('consent_withdrawal'), 0);
  assert.equal(await fleetDroppedPoints('objection'), 3, 'fleet health shows the dropped points');

  const status = await callAs(stack, token, 'GET', '/tenant/v1/subjects/kunde-1');
  assert.deepEqual(
    status
      .json<{ objections: Array<{ purpose: string; basis: string }> }>()
      .objections.map((o) => [o.purpose, o.basis]),
    [[HEAT, 'objection']],
  );
  const lifted = await tenantPost('kunde-1/object/lift', { purpose: HEAT });
  assert.equal(lifted.lifted, true);
  const audit = await stack.skjold.audit.list({ tenantId: T, action: 'subject.objection.lift' });
  assert.equal(audit.length, 1, 'the lift is audited');

  await send(c1, mine, [4, 5]);
  assert.deepEqual(await storedSeqs(mine), [0, 4, 5], 'storage resumes; what was dropped stays dropped');
  assert.equal((await dropped('objection')) - countedBefore, 3);
  assert.equal(
    (await tenantPost('kunde-1/object/lift', { purpose: HEAT })).lifted,
    false,
    'nothing left to lift',
  );
});

test('a consent withdrawal does the same; with an objection too, each must be lifted', async () => {
  const ids = identifierSource(`${T}-consent`);
  const sensor = await addDevice(stack.api, ids, T, 'building_sensor');
  await link('kunde-3', sensor);
  const client = await online(sensor);
  await tenantPost('kunde-3/withdraw-consent', { purpose: SENSORS });
  await tenantPost('kunde-3/object', { purpose: SENSORS });
  const before = await dropped('consent_withdrawal');
  const objectedBefore = await dropped('objection');
  await send(client, sensor, [0, 1]);
  assert.equal((await dropped('objection')) - objectedBefore, 2, 'the objection is named first');

  await tenantPost('kunde-3/object/lift', { purpose: SENSORS });
  await send(client, sensor, [2]);
  assert.equal((await dropped('consent_withdrawal')) - before, 1, 'consent is still withdrawn');
  assert.deepEqual(await storedSeqs(sensor), []);

  assert.equal((await tenantPost('kunde-3/withdraw-consent/lift', { purpose: SENSORS })).lifted, true);
  await send(client, sensor, [3]);
  assert.deepEqual(await storedSeqs(sensor), [3]);
  assert.ok((await fleetDroppedPoints('consent_withdrawal')) >= 1);
});

test('restriction keeps storing: the data is kept, only out of views', async () => {
  const ids = identifierSource(`${T}-restrict`);
  const meter = await addDevice(stack.api, ids, T, 'heat_meter');
  await link('kunde-4', meter);
  const client = await online(meter);
  await tenantPost('kunde-4/restrict');
  const before = (await dropped('objection')) + (await dropped('consent_withdrawal'));
  await send(client, meter, [0, 1]);
  assert.deepEqual(await storedSeqs(meter), [0, 1]);
  assert.equal((await dropped('objection')) + (await dropped('consent_withdrawal')), before);
});

test('erasing an objecting subject removes the link: the device’s readings are stored again', async () => {
  const ids = identifierSource(`${T}-erase`);
  const meter = await addDevice(stack.api, ids, T, 'heat_meter');
  await link('kunde-5', meter);
  const client = await online(meter);
  await tenantPost('kunde-5/object', { purpose: HEAT });
  await send(client, meter, [0]);
  assert.deepEqual(await storedSeqs(meter), [], 'dropped while the subject objects');
  const erase = await callAs(
    stack,
    (await issueToken(stack, T, ['subjects:erase'])).token,
    'POST',
    '/tenant/v1/subjects/kunde-5/erase',
    {},
  );
  assert.equal(erase.status, 200, erase.body);
  await send(client, meter, [1]);
  assert.deepEqual(await storedSeqs(meter), [1]);
});

test('a device linked to an objecting subject later is covered from the link on, by tenant or operator', async () => {
  const ids = identifierSource(`${T}-later`);
  const first = await addDevice(stack.api, ids, T, 'heat_meter');
  const second = await addDevice(stack.api, ids, T, 'heat_meter');
  await link('kunde-6', first);
  await tenantPost('kunde-6/object', { purpose: HEAT });
  const client = await online(second);
  await send(client, second, [0]);
  const res = await callAs(stack, operator(stack), 'PUT', `/v1/tenants/${T}/subjects/kunde-6/devices`, {
    deviceId: second.id,
  });
  assert.equal(res.status, 204, res.body);
  await send(client, second, [1]);
  assert.deepEqual(await storedSeqs(second), [0], 'stored until linked, dropped after');
});

/** Counts registry queries that read objections, from now until `stop()`. */
function countRegistryQueries(): { stop(): number } {
  const sql = stack.skjold.registry.sql;
  const real = sql.query;
  let n = 0;
  sql.query = ((text: string, params?: unknown[]) => {
    if (text.includes('subject_objections')) n++;
    return real.call(sql, text, params);
  }) as typeof sql.query;
  return {
    stop() {
      sql.query = real;
      return n;
    },
  };
}

test("an objection reaches the objecting occupant's own period only: the next occupant's readings are stored", async () => {
  const meter = await addDevice(stack.api, identifierSource('objection-period'), T, 'heat_meter');
  const client = await online(meter);
  const now = Date.now();
  const moveAt = now - 10 * 60_000;
  const first = await callAs(stack, token, 'PUT', '/tenant/v1/subjects/lejer-a/devices', {
    deviceId: meter.id,
    from: new Date(now - 3_600_000).toISOString(),
  });
  assert.equal(first.status, 200, first.body);
  await tenantPost('lejer-a/object', { purpose: HEAT });
  await tenantPost(`lejer-a/devices/${meter.id}/move-out`, { at: new Date(moveAt).toISOString() });
  const second = await callAs(stack, token, 'PUT', '/tenant/v1/subjects/lejer-b/devices', {
    deviceId: meter.id,
    from: new Date(moveAt).toISOString(),
  });
  assert.equal(second.status, 200, second.body);
  // Stamped while lejer-a lived there (late, say after a lost connection): not stored. After the move: lejer-b's.
  for (const [seq, time] of [
    [1, moveAt - 20 * 60_000],
    [2, moveAt + 60_000],
    [3, moveAt - 60_000],
    [4, now],
  ] as const)
    await publishAcked(client, meter.telemetry, JSON.stringify(validReading(meter, seq, time)));
  await stack.settled();
  assert.deepEqual(await storedSeqs(meter), [2, 4]);
});

test('GPS is stored as the centre of the contract grid cell, and not at all without one', async () => {
  await stack.api.createContract(T, {
    id: 'fleet-gps',
    role: 'processor',
    purpose: 'vehicle fleet telemetry',
    legalBasis: 'contract',
    startsOn: '2024-01-01',
    endsOn: null,
    jurisdiction: 'DK',
    gpsGridMeters: 1000,
  });
  const ids = identifierSource(`${T}-gps`);
  const gridded = await addDevice(stack.api, ids, T, 'sim_unit', 'fleet-gps');
  const plain = await addDevice(stack.api, ids, T, 'sim_unit'); // the kind's contract: no GPS
  const positions = [
    { lat: 55.676098, lon: 12.568337 },
    { lat: 55.6765, lon: 12.5689 }, // 60 m on: the same cell
    { lat: 55.69, lon: 12.6 }, // 2.5 km on: another
  ];
  for (const d of [gridded, plain]) {
    const client = await online(d);
    for (const [seq, gps] of positions.entries())
      await publishAcked(client, d.telemetry, JSON.stringify({ ...validReading(d, seq), gps }));
  }
  await stack.settled();

  const stored = await rows(
    stack.skjold.store,
    T,
    `SELECT gps_lat, gps_lon, seq FROM sim_unit WHERE device = '${gridded.pseudonym}'`,
  );
  assert.equal(stored.length, 3);
  for (const [seq, gps] of positions.entries()) {
    const row = stored.find((r) => r.seq === seq);
    assert.deepEqual({ lat: row?.gps_lat, lon: row?.gps_lon }, snapToGrid(gps.lat, gps.lon, 1000));
  }
  assert.equal(stored[0]?.gps_lat, stored[1]?.gps_lat);
  assert.equal(stored[0]?.gps_lon, stored[1]?.gps_lon);
  assert.notEqual(stored[0]?.gps_lat, stored[2]?.gps_lat);
  for (const gps of positions) {
    assert.ok(!stored.some((r) => r.gps_lat === gps.lat || r.gps_lon === gps.lon), 'no true position');
  }

  const none = await rows(
    stack.skjold.store,
    T,
    `SELECT * FROM sim_unit WHERE device = '${plain.pseudonym}'`,
  );
  assert.equal(none.length, 3, 'the readings are stored');
  assert.ok(
    none.every((r) => (r.gps_lat ?? null) === null && (r.gps_lon ?? null) === null),
    'without a grid in the contract, no GPS is stored',
  );
});

test('a contract is refused a grid under 100 m, and the old gpsDecimals by name', async () => {
  const contract = (extra: Record<string, unknown>) =>
    stack.api.call('POST', `/v1/tenants/${T}/contracts`, {
      id: 'too-fine',
      role: 'processor',
      purpose: 'p',
      legalBasis: 'contract',
      startsOn: '2024-01-01',
      jurisdiction: 'DK',
      ...extra,
    });
  await assert.rejects(contract({ gpsGridMeters: 99 }), { status: 400, code: 'SKJOLD_ERR_VALIDATION' });
  await assert.rejects(contract({ gpsDecimals: 3 }), (err: Error & { status?: number }) => {
    assert.equal(err.status, 400);
    assert.match(err.message, /gpsDecimals is replaced by gpsGridMeters/);
    return true;
  });
});
