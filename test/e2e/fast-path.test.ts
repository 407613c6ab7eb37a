/**
 * The broker's fast path (broker/fast-path.ts): a device's own telemetry at
 * QoS 0 and 1 goes to ingest without aedes' emitter, with the PUBACK still
 * sent only once the transport holds the point. QoS 2 and everything else
 * stay with aedes (the default). SKJOLD_MQTT_FAST_PATH=false puts telemetry back through aedes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { Client } from 'aedes';
import type { MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
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
  type TestDevice,
  validReading,
  withDeadline,
} from './devices.ts';
import { metricValue, scrape } from './metrics.ts';

const T0 = Date.now() - 3_600_000;

let influx: InfluxdServer;
let fast: Stack;
let viaAedes: Stack;
const clients: MqttClient[] = [];

before(async () => {
  influx = await startInfluxd();
  // The in-process transport, whose PUBACK means "in InfluxDB": the outage
  // test below can then see the PUBACK wait for the transport.
  const memory = {
    SKJOLD_TRANSPORT: 'memory',
    SKJOLD_RETRY_MAX_MS: 300,
    SKJOLD_BATCH_MAX_WAIT_MS: 5,
  } as const;
  fast = await startStack({ ...memory, SKJOLD_MQTT_FAST_PATH: true }, { influx });
  viaAedes = await startStack({ ...memory, SKJOLD_MQTT_FAST_PATH: false }, { influx });
});
after(async () => {
  await endAll(clients);
  await fast?.stop();
  await viaAedes?.stop();
  await influx?.stop();
});

/** Counts the telemetry publishes that went through aedes' emitter (its 'publish' event). */
function watchEmitter(stack: Stack): { telemetry: number } {
  const seen = { telemetry: 0 };
  stack.skjold.broker.aedes.on('publish', (packet) => {
    if (packet.topic.endsWith('/telemetry')) seen.telemetry++;
  });
  return seen;
}

async function device(stack: Stack, tenant: string): Promise<{ device: TestDevice; client: MqttClient }> {
  await addTenant(stack.api, tenant);
  const d = await addDevice(stack.api, identifierSource(tenant), tenant, 'heat_meter');
  const client = await connectDevice(stack.mqttUrl, d);
  clients.push(client);
  return { device: d, client };
}

const body = (d: TestDevice, seq: number) => JSON.stringify(validReading(d, seq, T0 + seq * 1000));

async function storedSeqs(stack: Stack, d: TestDevice): Promise<number[]> {
  const stored = await rows(
    stack.skjold.store,
    d.tenantId,
    `SELECT seq FROM heat_meter WHERE device = '${d.pseudonym}'`,
  );
  return stored.map((r) => Number(r.seq)).sort((a, b) => a - b);
}

const telemetryCount = async (stack: Stack, path: string, qos: string) =>
  metricValue(await scrape(stack.apiUrl), 'skjold_mqtt_telemetry_messages_total', { path, qos });

test('QoS 1 and QoS 0 telemetry is acknowledged and stored without passing through aedes’ emitter', async () => {
  const emitter = watchEmitter(fast);
  const { device: d, client } = await device(fast, 'fast-a');
  for (let seq = 0; seq < 20; seq++) await publishAcked(client, d.telemetry, body(d, seq));
  for (let seq = 20; seq < 30; seq++) await client.publishAsync(d.telemetry, body(d, seq), { qos: 0 });

  await eventually('all 30 readings stored', async () => (await storedSeqs(fast, d)).length === 30);
  assert.deepEqual(
    await storedSeqs(fast, d),
    Array.from({ length: 30 }, (_, i) => i),
  );
  assert.equal(emitter.telemetry, 0, 'no telemetry message went through aedes');
  assert.equal(await telemetryCount(fast, 'fast', '1'), 20);
  assert.equal(await telemetryCount(fast, 'fast', '0'), 10);
  assert.equal(await telemetryCount(fast, 'broker', '1'), 0);
});

test('a resent message (DUP) is acknowledged again and stored once', async () => {
  const { device: d, client } = await device(fast, 'fast-dup');
  const reading = body(d, 1);
  await publishAcked(client, d.telemetry, reading);
  await withDeadline(client.publishAsync(d.telemetry, reading, { qos: 1, dup: true }), 10_000, 'PUBACK');
  await eventually('the reading stored', async () => (await storedSeqs(fast, d)).length > 0);
  await fast.settled();
  assert.deepEqual(await storedSeqs(fast, d), [1]);
});

test('QoS 2 telemetry still goes through aedes, and is stored', async () => {
  const { device: d, client } = await device(fast, 'fast-qos2');
  const before = await telemetryCount(fast, 'broker', '2');
  await withDeadline(client.publishAsync(d.telemetry, body(d, 7), { qos: 2 }), 10_000, 'PUBCOMP');
  await eventually('the reading stored', async () => (await storedSeqs(fast, d)).length === 1);
  assert.equal(await telemetryCount(fast, 'broker', '2'), before + 1);
});

test('another device’s topic is refused by aedes’ ACL: the fast path takes only a device’s own topic', async () => {
  const { device: a } = await device(fast, 'fast-acl-a');
  const { device: b, client } = await device(fast, 'fast-acl-b');
  const forbidden = async () =>
    metricValue(await scrape(fast.apiUrl), 'skjold_mqtt_forbidden_total', { action: 'publish' });
  const before = await forbidden();
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.publish(a.telemetry, body(b, 1), { qos: 1 });
  await withDeadline(closed, 10_000, 'connection closed after a forbidden publish');
  await eventually('the forbidden publish counted', async () => (await forbidden()) === before + 1);
  assert.deepEqual(await storedSeqs(fast, a), []);
});

/** A device's MQTT session spoken byte by byte, with every packet the broker sends back. */
async function rawSession(stack: Stack, d: TestDevice) {
  const url = new URL(stack.mqttUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const received: Packet[] = [];
  const parser = mqttPacket.parser();
  parser.on('packet', (p: Packet) => received.push(p));
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: `raw-${d.id}`,
      keepalive: 30,
      username: d.login,
      password: Buffer.from(d.secret),
    }),
  );
  await eventually('CONNACK', () => received.some((p) => p.cmd === 'connack'));
  return { socket, received };
}

/** Reading `seq` of `d` as the bytes of a PUBLISH on its own telemetry topic. */
const publishBytes = (d: TestDevice, seq: number, qos: 0 | 1, messageId: number) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: d.telemetry,
    qos,
    messageId,
    dup: false,
    retain: false,
    payload: Buffer.from(body(d, seq)),
  });

test('telemetry packed with other packets in one read, and cut across reads, is each acknowledged once and stored once', async () => {
  const emitter = watchEmitter(fast);
  const { device: d } = await device(fast, 'fast-packed');
  const { socket, received } = await rawSession(fast, d);
  const publish = (seq: number, qos: 0 | 1) => publishBytes(d, seq, qos, 100 + seq);
  const ping = mqttPacket.generate({ cmd: 'pingreq' });
  const cut = publish(5, 1);
  // One write: two readings, a QoS 0 one, a PINGREQ (aedes' to answer), one more, and half of the next.
  socket.write(
    Buffer.concat([
      publish(0, 1),
      publish(1, 1),
      publish(2, 0),
      ping,
      publish(3, 1),
      publish(4, 1),
      cut.subarray(0, 9),
    ]),
  );
  await eventually('the PINGRESP and the first four PUBACKs', () => {
    const acks = received.filter((p) => p.cmd === 'puback').length;
    return acks === 4 && received.some((p) => p.cmd === 'pingresp');
  });
  // The rest of the cut packet, then one more in the same write.
  socket.write(Buffer.concat([cut.subarray(9), publish(6, 1)]));
  await eventually('six PUBACKs', () => received.filter((p) => p.cmd === 'puback').length === 6);
  await eventually('all 7 readings stored', async () => (await storedSeqs(fast, d)).length === 7);
  await fast.settled();
  assert.deepEqual(await storedSeqs(fast, d), [0, 1, 2, 3, 4, 5, 6]);
  const acked = received.flatMap((p) => (p.cmd === 'puback' ? [p.messageId] : []));
  assert.deepEqual(
    acked.sort((a, b) => (a ?? 0) - (b ?? 0)),
    [100, 101, 103, 104, 105, 106],
  );
  assert.equal(emitter.telemetry, 0, 'no telemetry message went through aedes');
  socket.destroy();
});

test('PUBACKs that are due together share writes (one per turn of the event loop), each sent once and in full', async () => {
  const { device: d } = await device(fast, 'fast-coalesced');
  const { socket, received } = await rawSession(fast, d);
  // Skjold's own end of this device's connection: every write on it from now on.
  const clients = (fast.skjold.broker.aedes as unknown as { clients: Record<string, Client> }).clients;
  const conn = clients[`raw-${d.id}`]?.conn as net.Socket | undefined;
  assert.ok(conn, 'the broker holds the raw session');
  const writes: Buffer[] = [];
  const write = conn.write.bind(conn) as (chunk: Buffer) => boolean;
  conn.write = ((chunk: Buffer) => {
    writes.push(Buffer.from(chunk));
    return write(chunk);
  }) as typeof conn.write;

  const ids = [201, 202, 203, 204];
  // Four readings in one write: read together, stored in one batch, acknowledged together.
  socket.write(Buffer.concat(ids.map((messageId, seq) => publishBytes(d, seq, 1, messageId))));
  await eventually('four PUBACKs', () => received.filter((p) => p.cmd === 'puback').length === 4);
  const acked = received.flatMap((p) => (p.cmd === 'puback' ? [p.messageId] : []));
  assert.deepEqual(acked.sort(), ids);
  // What went out is exactly four PUBACK packets, in fewer writes than packets.
  const out = Buffer.concat(writes);
  assert.equal(out.length, 4 * ids.length, `PUBACK bytes only: ${out.toString('hex')}`);
  for (let i = 0; i < out.length; i += 4) assert.deepEqual([out[i], out[i + 1]], [0x40, 0x02]);
  assert.ok(writes.length < ids.length, `${writes.length} writes for ${ids.length} PUBACKs`);
  await eventually('all 4 readings stored', async () => (await storedSeqs(fast, d)).length === 4);
  socket.destroy();
});

test('SKJOLD_MQTT_FAST_PATH=false: every telemetry message goes through aedes’ emitter', async () => {
  const emitter = watchEmitter(viaAedes);
  const { device: d, client } = await device(viaAedes, 'via-aedes');
  for (let seq = 0; seq < 5; seq++) await publishAcked(client, d.telemetry, body(d, seq));
  await eventually('all 5 readings stored', async () => (await storedSeqs(viaAedes, d)).length === 5);
  assert.equal(emitter.telemetry, 5);
  assert.equal(await telemetryCount(viaAedes, 'broker', '1'), 5);
  assert.equal(await telemetryCount(viaAedes, 'fast', '1'), 0);
});

// Last: it takes influxd away from both stacks.
test('on the fast path the PUBACK waits for the transport: none while the store is down, all once it is back', async () => {
  const { device: d, client } = await device(fast, 'fast-outage');
  await publishAcked(client, d.telemetry, body(d, 0));
  await influx.kill();
  let acked = 0;
  const pending = Promise.all(
    [1, 2, 3].map((seq) => client.publishAsync(d.telemetry, body(d, seq), { qos: 1 }).then(() => acked++)),
  );
  await holdsFor('no PUBACK while the store is down', 1_500, () => acked === 0);
  await influx.restart();
  await withDeadline(pending, 30_000, 'PUBACKs after influxd returned');
  assert.equal(acked, 3);
  assert.deepEqual(await storedSeqs(fast, d), [0, 1, 2, 3]);
});
