/**
 * A store outage with the in-process transport (SPEC: "Nothing acknowledged is lost: QoS 1 messages survive
 * … a store outage; duplicates are harmless"). influxd is killed under a
 * running Skjold: devices get no PUBACK while it is down, the buffer stays
 * within its bound, and once influxd is back every message is stored once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { createFleet } from '../../device-sim/fleet.ts';
import { registerFleet } from '../../device-sim/register.ts';
import { rows } from '../harness/influx-rows.ts';
import { type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  endAll,
  eventually,
  holdsFor,
  identifierSource,
  publishAcked,
  validReading,
  withDeadline,
} from './devices.ts';
import { metricValue, scrape } from './metrics.ts';

const BUFFER_POINTS = 10;
const T0 = Date.now() - 3_600_000;

let influx: InfluxdServer;
let stack: Stack;
const clients: MqttClient[] = [];

before(async () => {
  influx = await startInfluxd();
  stack = await startStack(
    // The in-process transport, whose PUBACK means "in InfluxDB"; the spool's
    // outage behaviour is in spool-outage.test.ts. A short backoff ceiling so
    // the writer notices influxd's return quickly.
    {
      SKJOLD_TRANSPORT: 'memory',
      SKJOLD_BUFFER_POINTS: BUFFER_POINTS,
      SKJOLD_RETRY_MAX_MS: 300,
      SKJOLD_BATCH_MAX_WAIT_MS: 5,
    },
    { influx },
  );
});
after(async () => {
  await endAll(clients);
  await stack.stop();
  await influx.stop();
});

const metrics = async () => {
  const text = await scrape(stack.apiUrl);
  return {
    storeUp: metricValue(text, 'skjold_store_up'),
    retries: metricValue(text, 'skjold_store_write_batches_total', { outcome: 'retry' }),
    written: metricValue(text, 'skjold_store_points_written_total'),
    buffered: metricValue(text, 'skjold_transport_buffered_points'),
    backpressure: metricValue(text, 'skjold_transport_backpressure'),
  };
};

/** Publishes at QoS 1 without waiting; `acked` counts the PUBACKs as they come. */
function publishAll(sends: Array<{ client: MqttClient; topic: string; body: string }>) {
  const state = { acked: 0, done: Promise.resolve() };
  state.done = Promise.all(
    sends.map(({ client, topic, body }) =>
      client.publishAsync(topic, body, { qos: 1 }).then(() => {
        state.acked++;
      }),
    ),
  ).then(() => undefined);
  return state;
}

test('readings published while the store is down are acknowledged only after it returns, then stored once', async () => {
  const tenant = 'outage-a';
  await addTenant(stack.api, tenant);
  const device = await addDevice(stack.api, identifierSource('outage-a'), tenant, 'sim_unit');
  const client = await connectDevice(stack.mqttUrl, device);
  clients.push(client);
  for (let seq = 0; seq < 5; seq++) {
    await publishAcked(client, device.telemetry, JSON.stringify(validReading(device, seq, T0 + seq * 1000)));
  }
  const up = await metrics();
  assert.equal(up.storeUp, 1);

  await influx.kill();
  const sends = Array.from({ length: 20 }, (_, i) => ({
    client,
    topic: device.telemetry,
    body: JSON.stringify(validReading(device, 5 + i, T0 + (5 + i) * 1000)),
  }));
  const pending = publishAll(sends);
  await eventually('the store is reported down', async () => (await metrics()).storeUp === 0);
  await holdsFor('no PUBACK while the store is down', 2_000, () => pending.acked === 0);
  const down = await metrics();
  assert.ok(down.retries > up.retries, 'failed writes are retried');
  await eventually('retries keep coming', async () => (await metrics()).retries > down.retries);
  assert.equal(pending.acked, 0);

  await influx.restart();
  await withDeadline(pending.done, 30_000, 'PUBACKs after influxd returned');
  assert.equal(pending.acked, 20);
  const back = await metrics();
  assert.equal(back.storeUp, 1);
  assert.equal(back.written - up.written, 20, 'each reading written once');

  const stored = await rows(
    stack.skjold.store,
    tenant,
    `SELECT seq FROM sim_unit WHERE device = '${device.pseudonym}'`,
  );
  assert.deepEqual(
    stored.map((r) => Number(r.seq)).sort((a, b) => a - b),
    Array.from({ length: 25 }, (_, i) => i),
  );
});

test('with the store down the buffer fills to its bound, devices are held back, and all arrives afterwards', async () => {
  const tenant = 'outage-b';
  const fleet = createFleet({
    seed: 'outage-b',
    tenants: [{ id: tenant, name: 'Outage B', jurisdiction: 'SE', role: 'controller' }],
    devicesPerKind: 5,
  });
  const { devices } = await registerFleet(fleet, stack.api.registrar);
  const connected = await Promise.all(devices.map((d) => connectDevice(stack.mqttUrl, d)));
  clients.push(...connected);
  const PER_DEVICE = 3;
  const total = devices.length * PER_DEVICE;
  assert.ok(total > 2 * BUFFER_POINTS);
  const before = await metrics();

  await influx.kill();
  // Watch the buffer for the whole outage and recovery.
  let maxBuffered = 0;
  const sampler = setInterval(() => {
    maxBuffered = Math.max(maxBuffered, stack.skjold.transport.buffered());
  }, 5);
  try {
    const pending = publishAll(
      devices.flatMap((d, i) =>
        Array.from({ length: PER_DEVICE }, (_, k) => ({
          client: connected[i] as MqttClient,
          topic: `skjold/d/${d.login}/telemetry`,
          body: JSON.stringify(validReading(d, k, T0 + k * 1000)),
        })),
      ),
    );
    await eventually('backpressure is signalled', async () => (await metrics()).backpressure === 1);
    await holdsFor('the buffer stays within its bound, nothing acknowledged', 1_000, async () => {
      const m = await metrics();
      return (
        m.buffered <= BUFFER_POINTS &&
        stack.skjold.transport.buffered() <= BUFFER_POINTS &&
        pending.acked === 0
      );
    });
    assert.equal(stack.skjold.transport.buffered(), BUFFER_POINTS, 'the buffer is full');

    await influx.restart();
    await withDeadline(pending.done, 30_000, 'PUBACKs after influxd returned');
    assert.equal(pending.acked, total);
  } finally {
    clearInterval(sampler);
  }
  assert.ok(maxBuffered <= BUFFER_POINTS, `buffered up to ${maxBuffered} points`);

  const after = await metrics();
  assert.equal(after.backpressure, 0);
  assert.equal(after.buffered, 0);
  assert.equal(after.written - before.written, total, 'each reading written once');
  for (const kind of ['heat_meter', 'sim_unit', 'building_sensor'] as const) {
    const stored = await rows(stack.skjold.store, tenant, `SELECT seq FROM ${kind}`);
    const expected = devices.filter((d) => d.kind === kind).length * PER_DEVICE;
    assert.equal(stored.length, expected, `${kind}: every reading stored`);
  }
});
