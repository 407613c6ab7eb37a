import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { createFleet } from './fleet.ts';
import { type LoadProgress, publishPacket, runLoad, startLoad } from './load.ts';
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
  const recorded = [...(report.sendTimes?.values() ?? [])].reduce((n, m) => n + m.size, 0);
  assert.equal(recorded, report.published);

  assert.equal(broker.received.length, report.published);
  const perDevice = new Map<string, number>();
  for (const m of broker.received) {
    const payload = JSON.parse(m.payload.toString());
    assert.equal(m.topic, `skjold/d/${m.username}/telemetry`);
    assert.ok(report.sendTimes?.get(m.username)?.has(payload.seq));
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

test('runLoad keeps send times only for the logins named in recordSendTimesFor', async () => {
  const named = fleet.devices.slice(0, 2).map((d) => d.login);
  const before = broker.received.length;
  const report = await runLoad({
    mqttUrl: broker.url,
    devices: fleet.devices,
    totalRate: 1200,
    durationMs: 500,
    qos: 1,
    recordSendTimesFor: new Set(named),
  });
  const fromNamed = (login: string) =>
    broker.received
      .slice(before)
      .filter((m) => m.username === login)
      .map((m) => JSON.parse(m.payload.toString()).seq as number);
  assert.deepEqual([...(report.sendTimes?.keys() ?? [])].sort(), [...named].sort());
  for (const login of named) {
    const seqs = fromNamed(login);
    assert.ok(seqs.length > 0);
    const byNumber = (a: number, b: number) => a - b;
    assert.deepEqual([...(report.sendTimes?.get(login)?.keys() ?? [])].sort(byNumber), seqs.sort(byNumber));
  }
});

test('startLoad reports progress while it runs and hands each send time over once', async () => {
  const named = fleet.devices[0]?.login as string;
  const before = broker.received.length;
  const run = startLoad({
    mqttUrl: broker.url,
    devices: fleet.devices,
    totalRate: 1000,
    durationMs: 1500,
    qos: 1,
    recordSendTimesFor: new Set([named]),
  });
  const started = await run.started;
  const readings: LoadProgress[] = [];
  // Readings are samples of a running load, not a synchronisation: any number of them must add up.
  const timer = setInterval(() => readings.push(run.progress()), 100);
  const report = await run.done;
  clearInterval(timer);

  assert.ok(readings.length > 2, `${readings.length} readings`);
  assert.ok(
    readings.some(
      (r) => r.published > 0 && r.published < report.published && r.online === fleet.devices.length,
    ),
    'a reading while the fleet was connected and publishing',
  );
  let previous = { published: 0, acked: 0, deviceTime: started.deviceTime };
  const handedOver = new Map<number, number>();
  for (const r of readings) {
    assert.ok(r.published >= previous.published && r.acked >= previous.acked);
    assert.ok(r.acked + r.unacked <= r.published);
    assert.equal(r.connected, fleet.devices.length);
    assert.deepEqual([...r.sendTimes.keys()], [named]);
    for (const [seq] of r.sendTimes.get(named) ?? []) {
      assert.ok(!handedOver.has(seq), `seq ${seq} handed over twice`);
      handedOver.set(seq, r.deviceTime);
    }
    previous = r;
  }
  for (const [seq] of report.sendTimes?.get(named) ?? []) {
    assert.ok(!handedOver.has(seq), `seq ${seq} in a reading and the report`);
    handedOver.set(seq, Number.POSITIVE_INFINITY);
  }
  // Every message the named device sent was handed over exactly once, by the first reading after it.
  const sent = broker.received.slice(before).filter((m) => m.username === named);
  assert.equal(handedOver.size, sent.length);
  const readingTimes = [started.deviceTime, ...readings.map((r) => r.deviceTime)];
  for (const m of sent) {
    const { ts, seq } = JSON.parse(m.payload.toString()) as { ts: string; seq: number };
    const readAt = handedOver.get(seq);
    assert.ok(readAt !== undefined, `seq ${seq} never handed over`);
    const pointTime = Date.parse(ts);
    assert.ok(pointTime <= readAt, `seq ${seq} stamped ${pointTime} after the reading at ${readAt}`);
    const earlier = readingTimes.filter((t) => t < readAt).at(-1) ?? started.deviceTime;
    assert.ok(
      pointTime >= earlier,
      `seq ${seq} stamped ${pointTime} before the previous reading at ${earlier}`,
    );
  }
  assert.equal(report.acked, report.published);
  assert.equal(report.unacked, 0);
  // Read after the fleet disconnected: the devices online when publishing stopped.
  assert.equal(run.progress().online, fleet.devices.length);
});

test('publishPacket writes the bytes mqtt-packet generates, for every length of the remaining-length field', () => {
  const topic = 'skjold/d/hm-0001/telemetry';
  // Remaining lengths of 1, 2 and 3 bytes, each on both sides of a boundary (127/128, 16,383/16,384).
  for (const bodyBytes of [10, 95, 96, 16_350, 16_351, 20_000]) {
    const body = 'x'.repeat(bodyBytes);
    for (const qos of [0, 1] as const) {
      const expected = mqttPacket.generate({
        cmd: 'publish',
        topic,
        qos,
        ...(qos === 1 ? { messageId: 4242 } : {}),
        dup: false,
        retain: false,
        payload: Buffer.from(body),
      });
      assert.deepEqual(
        publishPacket(Buffer.from(topic), qos, 4242, body),
        expected,
        `${bodyBytes} bytes, QoS ${qos}`,
      );
    }
  }
});
