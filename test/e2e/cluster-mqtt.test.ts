/**
 * Two Skjold instances in one process sharing a registry, InfluxDB and Redis:
 * what one instance publishes reaches a device connected to the other, a
 * device's queued QoS 1 messages wait for it in Redis whichever instance it
 * comes back to, a device connecting to the second instance takes its
 * session over from the first, and a device decommissioned through one
 * instance is disconnected from and refused by the other.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { createPostgresClient } from '../../registry/postgres-client.ts';
import { type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { type PostgresServer, startPostgres } from '../harness/postgres.ts';
import { type RedisServer, startRedis } from '../harness/redis.ts';
import { sharedKeys } from '../harness/shared-keys.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  closed,
  connectAs,
  endAll,
  eventually,
  identifierSource,
  publishAcked,
  subscribeCodes,
  type TestDevice,
  validReading,
  withDeadline,
} from './devices.ts';

const TENANT = 'klynge';
let redis: RedisServer;
let postgres: PostgresServer;
let influx: InfluxdServer;
let a: Stack;
let b: Stack;
const clients: MqttClient[] = [];
const ids = identifierSource('cluster-mqtt');

before(async () => {
  [redis, postgres, influx] = await Promise.all([startRedis(), startPostgres(), startInfluxd()]);
  const shared = {
    SKJOLD_REDIS_URL: redis.url,
    DATABASE_URL: postgres.url,
    SKJOLD_KEYS: await sharedKeys([TENANT]),
  };
  const instance = async (id: string) =>
    startStack(
      { ...shared, SKJOLD_INSTANCE_ID: id },
      { influx, skjold: { sql: await createPostgresClient(postgres.url) } },
    );
  a = await instance('a');
  b = await instance('b');
  await addTenant(a.api, TENANT);
});

after(async () => {
  await endAll(clients);
  await a?.stop();
  await b?.stop();
  await Promise.all([influx?.stop(), postgres?.stop(), redis?.stop()]);
});

async function device(): Promise<TestDevice> {
  return addDevice(a.api, ids, TENANT, 'building_sensor');
}

function connect(stack: Stack, d: TestDevice, clientId: string, clean = true): Promise<MqttClient> {
  return connectAs(stack.mqttUrl, d.login, d.secret, { clientId, clean }).then((c) => {
    clients.push(c);
    return c;
  });
}

function command(stack: Stack, d: TestDevice, text: string, retain = false): Promise<void> {
  const published = new Promise<void>((resolve, reject) =>
    stack.skjold.broker.aedes.publish(
      { cmd: 'publish', topic: d.commands, payload: Buffer.from(text), qos: 1, retain, dup: false },
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  return withDeadline(published, 10_000, 'the command published');
}

function messages(client: MqttClient): string[] {
  const seen: string[] = [];
  client.on('message', (_topic, payload) => seen.push(payload.toString()));
  return seen;
}

test('/readyz reports Redis on each instance', async () => {
  for (const stack of [a, b]) {
    const res = await fetch(new URL('/readyz', stack.apiUrl));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      ready: true,
      registry: true,
      store: true,
      broker: true,
      redis: true,
    });
  }
});

test('a device registered through one instance authenticates and publishes on the other', async () => {
  const d = await device();
  const client = await connect(b, d, 'pub-on-b');
  await publishAcked(client, d.telemetry, JSON.stringify(validReading(d, 1)));
});

test('telemetry stays on the instance that ingests it: nothing of it is published to Redis', async () => {
  const monitor = new Redis(redis.url);
  const channels: string[] = [];
  try {
    await monitor.psubscribe('*');
    monitor.on('pmessage', (_pattern, channel) => channels.push(channel));
    const d = await device();
    const client = await connect(a, d, 'telemetry-local');
    await publishAcked(client, d.telemetry, JSON.stringify(validReading(d, 3)));
    // Positive control: a command to the same device does go through Redis.
    await command(a, d, 'ping');
    await eventually('the command was published to Redis', () => channels.includes(d.commands));
    assert.deepEqual(
      channels.filter((c) => c.includes('telemetry')),
      [],
    );
  } finally {
    monitor.disconnect();
  }
});

test('a command published through instance A reaches the device connected to instance B', async () => {
  const d = await device();
  const client = await connect(b, d, 'cmd-on-b');
  assert.deepEqual(await subscribeCodes(client, d.commands, 1), [1]);
  const seen = messages(client);
  // The subscription travels to A through Redis; publish until A knows of it.
  await eventually('the command reached B', async () => {
    if (seen.length === 0) await command(a, d, 'open-valve');
    return seen.includes('open-valve');
  });
});

test('a QoS 1 command for an offline device waits in Redis and is delivered on the other instance', async () => {
  const d = await device();
  const first = await connect(a, d, 'persistent-1', false);
  assert.deepEqual(await subscribeCodes(first, d.commands, 1), [1]);
  await first.endAsync();

  await command(b, d, 'while-away');
  const again = await connect(b, d, 'persistent-1', false);
  const seen = messages(again);
  await eventually('the queued command arrived on B', () => seen.includes('while-away'));
});

test('a retained command published through A is sent to the device when it subscribes on B', async () => {
  const d = await device();
  await command(a, d, 'set-interval-60', true);
  const client = await connect(b, d, 'retained-on-b');
  const seen = messages(client);
  assert.deepEqual(await subscribeCodes(client, d.commands, 1), [1]);
  await eventually('the retained command arrived on B', () => seen.includes('set-interval-60'));
});

test('a device connecting to B with the same client id takes its session over from A', async () => {
  const d = await device();
  const onA = await connect(a, d, 'takeover-1');
  const onAClosed = closed(onA);
  const onB = await connect(b, d, 'takeover-1');
  await withDeadline(onAClosed, 10_000, 'the connection on A closed');
  assert.ok(onB.connected, 'the new connection on B stays');
  await publishAcked(onB, d.telemetry, JSON.stringify(validReading(d, 2)));
});

test('a device decommissioned through A is disconnected from B and refused by both, its credential cached or not', async () => {
  const d = await device();
  // Connected to B, so B has verified and cached its credential.
  const onB = await connect(b, d, 'retiring-on-b');
  await publishAcked(onB, d.telemetry, JSON.stringify(validReading(d, 1)));
  const gone = closed(onB);
  await a.api.decommissionDevice(TENANT, d.id);
  await withDeadline(gone, 10_000, 'the connection on B closed');
  for (const stack of [b, a]) {
    await assert.rejects(
      connectAs(stack.mqttUrl, d.login, d.secret),
      (err: { code?: number }) => err.code === 5,
    );
  }
});
