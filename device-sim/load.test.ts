import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createFleet } from './fleet.ts';
import { runLoad } from './load.ts';
import { startTestBroker, type TestBroker } from './test-broker.ts';

const fleet = createFleet({
  seed: 'load',
  tenants: [{ id: 'bench', name: 'Bench', jurisdiction: 'DK', role: 'processor' }],
  devicesPerKind: 4,
});
let broker: TestBroker;

before(async () => {
  broker = await startTestBroker(fleet.devices);
});
after(async () => {
  await broker.close();
});

test('runLoad holds the total rate, spreads it over devices and records send times', async () => {
  const report = await runLoad({
    mqttUrl: broker.url,
    devices: fleet.devices,
    totalRate: 2000,
    durationMs: 1000,
    qos: 1,
    recordSendTimes: true,
  });
  assert.equal(report.connected, fleet.devices.length);
  assert.deepEqual(report.errors, {});
  assert.ok(report.published >= 1700 && report.published <= 2000, `published ${report.published}`);
  assert.equal(report.unacked, 0);
  assert.equal(report.acked, report.published);
  assert.equal(
    report.perSecond.reduce((a, b) => a + b, 0),
    report.acked,
  );
  assert.ok(
    report.firstPublishAt !== null && report.lastAckAt !== null && report.lastAckAt >= report.firstPublishAt,
  );
  assert.equal(report.sendTimes?.size, report.published);

  assert.equal(broker.received.length, report.published);
  const perDevice = new Map<string, number>();
  for (const m of broker.received) {
    const payload = JSON.parse(m.payload.toString());
    assert.equal(m.topic, `skjold/d/${m.username}/telemetry`);
    assert.ok(report.sendTimes?.has(`${m.username}:${payload.seq}`));
    assert.ok(!Number.isNaN(Date.parse(payload.ts)));
    perDevice.set(m.username, (perDevice.get(m.username) ?? 0) + 1);
  }
  const counts = [...perDevice.values()];
  assert.equal(counts.length, fleet.devices.length);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, 'round-robin over devices');
});

test('runLoad at QoS 0 without send times', async () => {
  const report = await runLoad({
    mqttUrl: broker.url,
    devices: fleet.devices.slice(0, 2),
    totalRate: 500,
    durationMs: 300,
    qos: 0,
  });
  assert.ok(report.published > 100);
  assert.equal(report.sendTimes, undefined);
  assert.equal(report.unacked, 0);
});
