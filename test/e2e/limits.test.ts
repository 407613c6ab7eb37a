/**
 * The broker's limits (SPEC: "Limits on packet size, connection rate and
 * message rate"; "Admission control is not optional"), with small values so
 * each is reached quickly.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { oversize } from '../../device-sim/payloads.ts';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  closed,
  connectAs,
  connectDevice,
  endAll,
  eventually,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';
import { metric } from './metrics.ts';

const TENANT = 'limits';
const MAX_PACKET_BYTES = 1024;
const DEVICE_RATE = 10; // messages/s per device; burst 5×
const DEVICE_BURST = 5 * DEVICE_RATE;
const CONNECT_RATE = 5; // connections/s for the broker; burst 2×
const CONNECT_BURST = 2 * CONNECT_RATE;

let stack: Stack;
const d: Record<'big' | 'other' | 'burst' | 'storm', TestDevice> = {} as never;
const clients: MqttClient[] = [];

before(async () => {
  stack = await startStack({
    SKJOLD_MQTT_MAX_PACKET_BYTES: MAX_PACKET_BYTES,
    SKJOLD_MQTT_DEVICE_RATE: DEVICE_RATE,
    SKJOLD_MQTT_CONNECT_RATE: CONNECT_RATE,
    SKJOLD_BATCH_MAX_WAIT_MS: 5,
  });
  await addTenant(stack.api, TENANT);
  const ids = identifierSource('limits');
  d.big = await addDevice(stack.api, ids, TENANT, 'heat_meter');
  d.other = await addDevice(stack.api, ids, TENANT, 'heat_meter');
  d.burst = await addDevice(stack.api, ids, TENANT, 'building_sensor');
  d.storm = await addDevice(stack.api, ids, TENANT, 'sim_unit');
});
after(async () => {
  await endAll(clients);
  await stack.stop();
});

async function connect(device: TestDevice): Promise<MqttClient> {
  const c = await connectDevice(stack.mqttUrl, device);
  clients.push(c);
  return c;
}

const limited = (limit: string) => metric(stack.apiUrl, 'skjold_mqtt_limit_enforced_total', { limit });

/** A QoS 1 PUBLISH's size on the wire for a payload of `payload` bytes (MQTT 3.1.1, remaining length < 16384). */
const packetBytes = (topic: string, payload: number) => 1 + 2 + 2 + Buffer.byteLength(topic) + 2 + payload;

async function storedSeqs(device: TestDevice): Promise<number[]> {
  await stack.settled();
  const r = await rows(
    stack.skjold.store,
    TENANT,
    `SELECT seq FROM ${device.kind} WHERE device = '${device.pseudonym}'`,
  );
  return r.map((x) => Number(x.seq)).sort((a, b) => a - b);
}

test('a packet at the size limit is taken; one byte over closes that connection, is counted, and others are served', async () => {
  const other = await connect(d.other);
  const big = await connect(d.big);
  const budget = MAX_PACKET_BYTES - packetBytes(d.big.telemetry, 0);
  const atLimit = oversize(validReading(d.big, 1), budget);
  assert.equal(packetBytes(d.big.telemetry, Buffer.byteLength(atLimit)), MAX_PACKET_BYTES);
  await publishAcked(big, d.big.telemetry, atLimit);

  const before = await limited('packet_size');
  const gone = closed(big);
  big.publish(d.big.telemetry, oversize(validReading(d.big, 2), budget + 1), { qos: 1 });
  await gone;
  assert.equal(await limited('packet_size'), before + 1);

  await publishAcked(other, d.other.telemetry, JSON.stringify(validReading(d.other, 3)));
  assert.ok(other.connected, 'the other device kept its connection');
  // The device itself may come back with a reading that fits.
  const again = await connect(d.big);
  await publishAcked(again, d.big.telemetry, JSON.stringify(validReading(d.big, 4)));

  assert.deepEqual(await storedSeqs(d.big), [1, 4], 'the oversize reading was not stored');
  assert.deepEqual(await storedSeqs(d.other), [3]);
});

test('a device bursting 100 QoS 1 messages gets all acknowledged, no faster than its rate allows', async () => {
  const N = 100;
  const c = await connect(d.burst);
  const before = await limited('device_rate');
  await stack.settled();
  const writtenBefore = await metric(stack.apiUrl, 'skjold_store_points_written_total');
  const t0 = Date.now() - 1;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      publishAcked(
        c,
        d.burst.telemetry,
        JSON.stringify(validReading(d.burst, i, t0 - (N - i) * 1000)),
        60_000,
      ),
    ),
  );
  const elapsedMs = performance.now() - start;
  // A full bucket lets `burst` through at once; the rest come at `rate` per second.
  const lowerBoundMs = ((N - DEVICE_BURST) / DEVICE_RATE) * 1000 * 0.9;
  assert.ok(
    elapsedMs >= lowerBoundMs,
    `${N} messages acknowledged in ${Math.round(elapsedMs)} ms < ${lowerBoundMs} ms`,
  );
  const waited = (await limited('device_rate')) - before;
  assert.ok(waited > 0 && waited <= N, `device_rate enforced ${waited} times`);
  assert.deepEqual(
    await storedSeqs(d.burst),
    Array.from({ length: N }, (_, i) => i),
    'every acknowledged message stored',
  );
  // Rows cannot show a message written twice (it overwrites itself); the points-written count can.
  const written = (await metric(stack.apiUrl, 'skjold_store_points_written_total')) - writtenBefore;
  assert.equal(written, N, 'each message written once');
});

test('40 connections at once: those over the connection rate are dropped before CONNACK and counted', async () => {
  const before = await limited('connect_rate');
  const start = performance.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: 40 }, () => connectAs(stack.mqttUrl, d.storm.login, d.storm.secret)),
  );
  const stormSeconds = (performance.now() - start) / 1000;
  const connected = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  clients.push(...connected);
  const dropped = outcomes.length - connected.length;
  assert.ok(connected.length > 0, 'the burst allowance let some in');
  // The bucket holds 2× the rate; more tokens drip in at the rate while the storm lasts.
  const allowed = CONNECT_BURST + Math.ceil(CONNECT_RATE * stormSeconds);
  assert.ok(
    connected.length <= allowed,
    `${connected.length} connected in ${stormSeconds.toFixed(2)} s, at most ${allowed} allowed`,
  );
  assert.ok(dropped > 0, 'some were dropped');
  assert.equal((await limited('connect_rate')) - before, dropped, 'each drop counted');

  await endAll(connected);
  // Once tokens come back, a device connects and is served again.
  let late: MqttClient | undefined;
  await eventually(
    'a connection accepted after the storm',
    async () => {
      late = await connectAs(stack.mqttUrl, d.storm.login, d.storm.secret).catch(() => undefined);
      return late !== undefined;
    },
    10_000,
  );
  assert.ok(late);
  clients.push(late);
  await publishAcked(late, d.storm.telemetry, JSON.stringify(validReading(d.storm, 1)));
});
