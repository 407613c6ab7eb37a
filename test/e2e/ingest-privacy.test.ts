/**
 * Privacy decisions ingest makes per point, end to end (real aedes, influxd,
 * PGlite): GPS kept only as the centre of the contract's grid cell, or not at
 * all.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { snapToGrid } from '../../ingest/gps-grid.ts';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
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

const T = 'fjernvarme-vest';
let stack: Stack;
const clients: MqttClient[] = [];

before(async () => {
  stack = await startStack();
  await addTenant(stack.api, T);
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
