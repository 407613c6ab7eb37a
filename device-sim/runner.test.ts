import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createFleet } from './fleet.ts';
import { VALIDATORS } from './identifiers.ts';
import { runFleet } from './runner.ts';
import { startTestBroker, type TestBroker } from './test-broker.ts';

const fleet = createFleet({
  seed: 'runner',
  tenants: [
    { id: 'dk', name: 'DK', jurisdiction: 'DK', role: 'processor' },
    { id: 'se', name: 'SE', jurisdiction: 'SE', role: 'controller' },
  ],
  devicesPerKind: 3,
});
let broker: TestBroker;

before(async () => {
  broker = await startTestBroker(fleet.devices);
});
after(async () => {
  await broker.close();
});

const FIELDS: Record<string, string[]> = {
  heat_meter: ['energy_kwh', 'volume_m3', 'flow_temp_c', 'return_temp_c', 'power_kw', 'flow_m3h', 'status'],
  sim_unit: ['rssi_dbm', 'rsrp_dbm', 'rsrq_db', 'bytes_up', 'bytes_down', 'mcc', 'mnc', 'cell'],
  building_sensor: ['temperature_c', 'humidity_pct', 'co2_ppm', 'occupancy'],
};

test('runFleet: QoS 1 readings all acknowledged, wrong passwords refused, shapes as contracted', async () => {
  const perDevice = 20;
  const report = await runFleet({
    mqttUrl: broker.url,
    devices: fleet.devices,
    messagesPerDevice: perDevice,
    ratePerDevice: 200,
    qos: 1,
    startTime: new Date('2025-03-01T00:00:00Z'),
    timeStepMs: 15 * 60_000,
    seed: 7,
    identifiers: fleet.identifiers,
    misbehave: { wrongPassword: 2, malformedJson: 0.05, wrongSchema: 0.05, hiddenIdentifiers: 0.2 },
  });

  const connected = fleet.devices.length - 2;
  assert.equal(report.refusedConnects, 2);
  assert.equal(report.refused.length, 2);
  assert.deepEqual([...broker.refused].sort(), [...report.refused].sort());
  assert.equal(report.published, connected * perDevice);
  assert.equal(report.unacked, 0);
  assert.equal(report.acked, report.sent.length);
  assert.equal(report.sent.length + report.misbehaved.length, report.published);
  assert.ok(report.misbehaved.length > 0 && report.misbehaved.length < report.published / 3);
  assert.equal(broker.forbidden, 0);
  assert.deepEqual(report.errors, { connack_4: 2 });

  // Every reading the runner counts as sent arrived, at QoS 1, on the device's own topic.
  assert.equal(broker.received.length, report.published);
  const arrived = new Map(broker.received.map((m) => [`${m.username}:${m.payload.toString()}`, m]));
  for (const s of report.sent) {
    const m = arrived.get(`${s.login}:${JSON.stringify(s.payload)}`);
    assert.ok(m, `reading ${s.seq} of a ${s.kind} arrived`);
    assert.equal(m.topic, `skjold/d/${s.login}/telemetry`);
    assert.equal(m.qos, 1);
    assert.match(m.clientId, /^d-[0-9a-f]+$/);
    assert.ok(!m.clientId.includes(s.login));
    const keys = Object.keys(s.payload).filter((k) => k !== 'note');
    assert.deepEqual(keys.sort(), ['seq', 'ts', ...(FIELDS[s.kind] ?? [])].sort());
    assert.equal(s.ts, s.payload.ts);
    assert.ok(!Number.isNaN(Date.parse(s.ts)));
  }
  // Sequence numbers are unique per device and cover every message it sent.
  const seqs = new Map<string, number[]>();
  for (const { login, seq } of [...report.sent, ...report.misbehaved])
    seqs.set(login, [...(seqs.get(login) ?? []), seq]);
  for (const list of seqs.values()) {
    assert.deepEqual(
      list.sort((a, b) => a - b),
      Array.from({ length: perDevice }, (_, i) => i),
    );
  }
  // The device clock advanced by the step per message.
  const one = report.sent.find((s) => s.seq === 4);
  assert.equal(one?.ts, '2025-03-01T01:00:00.000Z');

  // Raw identifiers: the devices' own and every one hidden in a note, all valid.
  const hiddenNotes = report.sent.filter((s) => s.payload.note);
  assert.ok(hiddenNotes.length > 0);
  const raw = new Set(report.rawIdentifiers);
  for (const d of fleet.devices) for (const v of Object.values(d.identifiers)) assert.ok(raw.has(v ?? ''));
  for (const s of hiddenNotes) {
    const squeezed = (s.payload.note ?? '').replaceAll(' ', '');
    const hidden = report.rawIdentifiers.filter((v) => squeezed.includes(v));
    assert.ok(hidden.length > 0, 'each note hides a recorded identifier');
  }
  for (const v of report.rawIdentifiers) {
    assert.ok(
      Object.values(VALIDATORS).some((valid) => valid(v)),
      'valid identifier',
    );
  }
});

test('runFleet stops on abort and reports what was acknowledged', async () => {
  const controller = new AbortController();
  const devices = fleet.devices.slice(0, 4);
  const before = broker.received.length;
  setTimeout(() => controller.abort(), 300);
  const report = await runFleet({
    mqttUrl: broker.url,
    devices,
    ratePerDevice: 50,
    qos: 1,
    signal: controller.signal,
    firstSeq: 1000,
  });
  assert.equal(report.refusedConnects, 0);
  assert.ok(report.published > 0);
  assert.equal(report.unacked, 0);
  assert.equal(report.acked, report.published);
  assert.equal(broker.received.length - before, report.published);
  assert.ok(report.sent.every((s) => s.seq >= 1000));
});

test('runFleet at QoS 0 with a duration', async () => {
  const report = await runFleet({
    mqttUrl: broker.url,
    devices: fleet.devices.slice(0, 3),
    ratePerDevice: 40,
    qos: 0,
    durationMs: 250,
  });
  assert.ok(report.published > 3);
  assert.equal(report.sent.length, report.published);
  assert.equal(report.unacked, 0);
});

test('runFleet refuses to run forever', async () => {
  await assert.rejects(runFleet({ mqttUrl: broker.url, devices: [], ratePerDevice: 1 }), RangeError);
});
