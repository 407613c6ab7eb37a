import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openKeyStore } from '../pseudonymizer/keystore.ts';
import { luhnCheckDigit } from '../pseudonymizer/luhn.ts';
import { createPseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import type { DeviceContext } from './device-context.ts';
import { snapToGrid } from './gps-grid.ts';
import { createIngestPseudonymizer } from './pseudonymizer-adapter.ts';
import { transformMessage } from './transform.ts';

const keys = JSON.stringify({
  format: 1,
  tenants: { acme: { current: 1, keys: { 1: Buffer.alloc(32, 7).toString('base64') } } },
});
const pseudonymizer = createPseudonymizer(await openKeyStore({ envValue: keys }));
const pseudo = createIngestPseudonymizer(pseudonymizer);
const time = { futureSkewMs: 300_000, pastSkewMs: 86_400_000 };
const NOW = Date.parse('2026-11-22T12:00:00Z');
const OWN_IMEI = '490154203237518';

function ctx(kind: DeviceContext['kind'], gpsGridMeters: number | null = null): DeviceContext {
  return {
    tenantId: 'acme',
    deviceId: 'd1',
    kind,
    devicePseudonym: 'v1.device',
    keyVersion: 1,
    ownPseudonyms: new Set([pseudonymizer.pseudonym('acme', 'imei', OWN_IMEI)]),
    tags: { tenant: 'acme', device: 'v1.device', role: 'processor' },
    gpsGridMeters,
  };
}

const run = (c: DeviceContext, body: unknown) =>
  transformMessage(c, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), NOW, pseudo, time);

const sim = {
  ts: '2026-11-22T11:59:00Z',
  seq: 7,
  rssi_dbm: -71,
  rsrp_dbm: -98,
  rsrq_db: -9,
  bytes_up: 1200,
  bytes_down: 88_000,
  mcc: '238',
  mnc: '01',
  cell: 1234567,
};

test('a SIM reading keeps its measurements, becomes a country, and loses network and cell', () => {
  const r = run(ctx('sim_unit'), sim);
  assert.ok(r.ok);
  assert.deepEqual(r.point.fields, {
    seq: 7,
    rssi_dbm: -71,
    rsrp_dbm: -98,
    rsrq_db: -9,
    bytes_up: 1200,
    bytes_down: 88_000,
    country: 'DK',
  });
  assert.equal(r.point.timestampMs, Date.parse(sim.ts));
  assert.equal(r.point.measurement, 'sim_unit');
  assert.equal(r.dropped.location, 3);
  assert.equal(r.arrivalTime, false);
});

test('unknown fields are dropped and counted, identifier-named ones separately', () => {
  const r = run(ctx('sim_unit'), { ...sim, firmware: '1.2.3', phone: '+4520123456', sim: '8945' });
  assert.ok(r.ok);
  assert.equal(r.dropped.unknown, 1);
  assert.equal(r.dropped.identifier, 2);
  assert.equal(JSON.stringify(r.point).includes('4520123456'), false);
});

test('named identifiers: the device’s own is dropped, another is pseudonymised, an invalid one dropped', () => {
  const other = '356938035643809';
  const r = run(ctx('sim_unit'), { ...sim, imei: OWN_IMEI, msisdn: '+46701234567', imsi: '123' });
  assert.ok(r.ok);
  assert.equal(r.point.fields.imei_pseudonym, undefined);
  assert.equal(r.point.fields.msisdn_pseudonym, pseudonymizer.pseudonym('acme', 'msisdn', '+46701234567'));
  assert.equal(r.dropped.identifier, 2);
  const moved = run(ctx('sim_unit'), { ...sim, imei: other });
  assert.ok(moved.ok);
  assert.equal(moved.point.fields.imei_pseudonym, pseudonymizer.pseudonym('acme', 'imei', other));
});

test('identifiers in free text are replaced by pseudonyms', () => {
  const iccid = `894501000000000001${luhnCheckDigit('894501000000000001')}`;
  const note = `swap SIM ${iccid} into unit, call +45 20 12 34 56`;
  const r = run(ctx('building_sensor'), {
    temperature_c: 21.5,
    humidity_pct: 40,
    co2_ppm: 600,
    occupancy: true,
    note,
    ts: NOW,
  });
  assert.ok(r.ok);
  const stored = String(r.point.fields.note);
  assert.ok(!stored.includes(iccid) && !stored.includes('20 12 34 56'));
  assert.match(stored, /\[iccid:v1\.[a-z2-7]{26}\]/);
  assert.match(stored, /\[msisdn:v1\.[a-z2-7]{26}\]/);
  assert.equal(r.point.fields.occupancy, 1);
  assert.deepEqual(
    r.pseudonymised.map((p) => p.where),
    ['text', 'text'],
  );
});

test('GPS is dropped unless the contract keeps it, and then only as its grid cell centre', () => {
  const reading = { ...sim, gps: { lat: 55.676098, lon: 12.568337 } };
  const dropped = run(ctx('sim_unit'), reading);
  assert.ok(dropped.ok);
  assert.equal(dropped.point.fields.gps_lat, undefined);
  assert.equal(dropped.dropped.location, 4, 'MCC, MNC and cell, and the GPS position');
  const kept = run(ctx('sim_unit', 1000), reading);
  assert.ok(kept.ok);
  // The centre of the 1 km cell, not the position: the same for a neighbour 50 m away.
  const centre = snapToGrid(55.676098, 12.568337, 1000);
  assert.deepEqual({ lat: kept.point.fields.gps_lat, lon: kept.point.fields.gps_lon }, centre);
  assert.notEqual(centre.lat, 55.676098);
  const neighbour = run(ctx('sim_unit', 1000), { ...sim, gps: { lat: 55.6765, lon: 12.5689 } });
  assert.ok(neighbour.ok);
  assert.deepEqual({ lat: neighbour.point.fields.gps_lat, lon: neighbour.point.fields.gps_lon }, centre);
});

test('implausible or missing device time gives arrival time, flagged', () => {
  for (const ts of [undefined, '2031-01-01T00:00:00Z', '2001-01-01T00:00:00Z']) {
    const r = run(ctx('sim_unit'), { ...sim, ts });
    assert.ok(r.ok);
    assert.equal(r.point.timestampMs, NOW);
    assert.equal(r.point.fields.arrival_time, true);
  }
});

test('bad input is rejected with a reason that names fields, never values', () => {
  assert.deepEqual(run(ctx('sim_unit'), '{"rssi_dbm": '), {
    ok: false,
    reason: 'json',
    detail: 'payload is not valid JSON',
  });
  for (const body of ['[1,2]', 'null', '42', '"text"']) {
    const r = run(ctx('sim_unit'), body);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'not_object');
  }
  const r = run(ctx('heat_meter'), { energy_kwh: -1, volume_m3: 'KAM12345678', flow_temp_c: 70 });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.reason === 'schema');
  assert.ok(!r.ok && r.detail.includes('energy_kwh'));
  assert.ok(!r.ok && !r.detail.includes('KAM12345678'));
});
