/**
 * Two Skjold instances as separate processes, as two containers behind a
 * load balancer would run: one PostgreSQL registry, one Redis, one InfluxDB,
 * each instance its own data dir and ports. A fleet spread over both
 * publishes readings with unique sequence numbers; each is stored once. Then
 * one instance is killed (SIGKILL) mid-stream: its devices reconnect to the
 * other and resend what was not acknowledged, and nothing a device saw
 * acknowledged is lost. The killed instance is restarted on its own data dir
 * (where a durable transport would replay from) and becomes ready again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { type ApiClient, createApiClient } from '../../cli/api-client.ts';
import { DEVICE_KINDS } from '../../lib/device-kinds.ts';
import { createInfluxV1Store } from '../../store/influx-v1.ts';
import type { TelemetryStore } from '../../store/telemetry-store.ts';
import { rows } from '../harness/influx-rows.ts';
import { type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { type PostgresServer, startPostgres } from '../harness/postgres.ts';
import { type RedisServer, startRedis } from '../harness/redis.ts';
import { sharedKeys } from '../harness/shared-keys.ts';
import { type SkjoldProcess, startSkjoldProcess } from '../harness/skjold-process.ts';
import {
  addDevice,
  addTenant,
  eventually,
  identifierSource,
  type TestDevice,
  validReading,
  withDeadline,
} from './devices.ts';
import { metric } from './metrics.ts';

const TENANT = 'flaade';
const TOKEN = 'cluster-operator-token-0123456789';
const DEVICES_PER_KIND = 4;
const BEFORE_KILL = 10; // messages per device with both instances up
const AROUND_KILL = 40; // messages per device while one instance dies
const START = Date.now() - 3_600_000;

interface FleetDevice {
  device: TestDevice;
  home: SkjoldProcess;
  client: MqttClient;
  /** Sequence numbers whose PUBACK the device received. */
  acked: Set<number>;
  published: number;
  reconnects: number;
}

let redis: RedisServer;
let postgres: PostgresServer;
let influx: InfluxdServer;
let store: TelemetryStore;
let a: SkjoldProcess;
let b: SkjoldProcess;
let api: ApiClient;
const dirs: string[] = [];
const fleet: FleetDevice[] = [];

before(async () => {
  [redis, postgres, influx] = await Promise.all([startRedis(), startPostgres(), startInfluxd()]);
  store = createInfluxV1Store({
    url: influx.url,
    username: influx.adminUser,
    password: influx.adminPassword,
    maxSockets: 2,
  });
  const env = {
    DATABASE_URL: postgres.url,
    SKJOLD_REDIS_URL: redis.url,
    SKJOLD_KEYS: await sharedKeys([TENANT]),
    SKJOLD_INFLUX_URL: influx.url,
    SKJOLD_INFLUX_USER: influx.adminUser,
    SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
    SKJOLD_INFLUXD_MANAGED: 'false',
    SKJOLD_OPERATOR_TOKEN: TOKEN,
    SKJOLD_RETENTION_SCHEDULE: 'off',
    SKJOLD_MQTT_DEVICE_RATE: '1000',
    SKJOLD_MQTT_CONNECT_RATE: '1000',
    SKJOLD_LOG_LEVEL: 'info',
  };
  const instance = (id: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), `skjold-cluster-${id}-`));
    dirs.push(dataDir);
    return startSkjoldProcess({ id, dataDir, env });
  };
  [a, b] = await Promise.all([instance('a'), instance('b')]);
  api = createApiClient({ url: a.apiUrl, token: TOKEN });
  await addTenant(api, TENANT);
  const ids = identifierSource('cluster-failover');
  let i = 0;
  for (const kind of DEVICE_KINDS) {
    for (let k = 0; k < DEVICES_PER_KIND; k++, i++) {
      const device = await addDevice(api, ids, TENANT, kind);
      const [home, other] = i % 2 === 0 ? [a, b] : [b, a];
      // A device knows both addresses (as it would know a load balancer's several):
      // it starts on its home instance and moves to the next one when that goes away.
      const client = await mqtt.connectAsync({
        servers: [
          { host: '127.0.0.1', port: home.mqttPort },
          { host: '127.0.0.1', port: other.mqttPort },
        ],
        username: device.login,
        password: device.secret,
        clientId: `fleet-${i}`,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 200,
        connectTimeout: 5_000,
      });
      const f: FleetDevice = { device, home, client, acked: new Set(), published: 0, reconnects: 0 };
      client.on('reconnect', () => f.reconnects++);
      fleet.push(f);
    }
  }
});

after(async () => {
  await Promise.all(fleet.map((f) => f.client.endAsync(true).catch(() => {})));
  await Promise.all([a?.stop(), b?.stop()]);
  await store?.close();
  await Promise.all([influx?.stop(), postgres?.stop(), redis?.stop()]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Publishes `count` readings in order at QoS 1, each waiting for its PUBACK (however many reconnects that takes). */
async function publish(f: FleetDevice, count: number, pauseMs: number): Promise<void> {
  for (let n = 0; n < count; n++) {
    const seq = f.published++;
    const body = JSON.stringify(validReading(f.device, seq, START + seq * 1_000));
    await f.client.publishAsync(f.device.telemetry, body, { qos: 1 });
    f.acked.add(seq);
    if (pauseMs > 0) await delay(pauseMs);
  }
}

/** Sequence numbers stored in InfluxDB per device pseudonym, one entry per point. */
async function storedSeqs(): Promise<Map<string, number[]>> {
  const byDevice = new Map<string, number[]>();
  for (const kind of DEVICE_KINDS) {
    for (const row of await rows(store, TENANT, `SELECT seq, device FROM ${kind}`)) {
      const list = byDevice.get(String(row.device)) ?? [];
      list.push(Number(row.seq));
      byDevice.set(String(row.device), list);
    }
  }
  return byDevice;
}

/**
 * Waits until InfluxDB holds as many points per device as it published (a
 * durable transport acknowledges before it writes), then checks that each
 * acknowledged reading is there and nothing else is. A reading written twice
 * overwrites itself (same series, same device time), so rows cannot show
 * duplicates: where a test claims "once" it compares the instances'
 * points-written counts with the distinct readings stored (`writtenOnce`).
 */
async function assertEventuallyStored(): Promise<Map<string, number[]>> {
  let stored = new Map<string, number[]>();
  await eventually(
    'every published reading in InfluxDB',
    async () => {
      stored = await storedSeqs();
      return fleet.every((f) => (stored.get(f.device.pseudonym)?.length ?? 0) >= f.published);
    },
    30_000,
  ).catch(() => undefined); // the assertions below say what is missing
  for (const f of fleet) {
    const seqs = stored.get(f.device.pseudonym) ?? [];
    const missing = [...f.acked].filter((s) => !seqs.includes(s));
    assert.deepEqual(missing, [], `device ${f.device.pseudonym}: acknowledged readings missing`);
    assert.deepEqual(
      [...new Set(seqs)].sort((x, y) => x - y),
      Array.from({ length: f.published }, (_, i) => i),
      `device ${f.device.pseudonym}: stored = published`,
    );
  }
  return stored;
}

/** Points InfluxDB accepted from both instances equal the distinct readings stored: none written twice. */
async function assertWrittenOnce(stored: Map<string, number[]>): Promise<void> {
  const written =
    (await metric(a.apiUrl, 'skjold_store_points_written_total')) +
    (await metric(b.apiUrl, 'skjold_store_points_written_total'));
  const distinct = [...stored.values()].reduce((n, seqs) => n + new Set(seqs).size, 0);
  assert.equal(written, distinct, 'each reading written once');
}

test('a fleet spread over two instances: every reading stored once', async () => {
  assert.equal(await metric(a.apiUrl, 'skjold_instance_info', { instance_id: 'a' }), 1);
  assert.equal(await metric(b.apiUrl, 'skjold_instance_info', { instance_id: 'b' }), 1);
  assert.equal(await metric(a.apiUrl, 'skjold_mqtt_connections'), fleet.length / 2, 'half the fleet on A');
  assert.equal(await metric(b.apiUrl, 'skjold_mqtt_connections'), fleet.length / 2, 'half the fleet on B');
  await withDeadline(Promise.all(fleet.map((f) => publish(f, BEFORE_KILL, 0))), 60_000, 'first readings');
  await assertWrittenOnce(await assertEventuallyStored());
});

let inFlight: Array<{ f: FleetDevice; seq: number }> = [];

test('instance A killed mid-stream: its devices move to B and resend until every reading is acknowledged', async () => {
  const streams = Promise.all(fleet.map((f) => publish(f, AROUND_KILL, 25)));
  const onA = fleet.filter((f) => f.home === a);
  // Kill once A's devices are well into the stream, at a moment when some
  // reading sent to A is not yet acknowledged: that one must be resent to B.
  const pending = () => onA.filter((f) => f.published > f.acked.size);
  while (onA.some((f) => f.acked.size < BEFORE_KILL + AROUND_KILL / 4) || pending().length === 0) {
    await delay(1);
  }
  inFlight = pending().map((f) => ({ f, seq: f.published - 1 }));
  await a.kill();
  assert.ok(inFlight.length > 0, 'the kill caught readings in flight');
  await withDeadline(streams, 90_000, 'every reading acknowledged after the failover');

  assert.equal(await metric(b.apiUrl, 'skjold_mqtt_connections'), fleet.length, 'the whole fleet on B');
  for (const f of onA) assert.ok(f.reconnects > 0, 'a device of A reconnected');
  for (const f of fleet.filter((f) => f.home === b)) assert.equal(f.reconnects, 0, 'B’s devices stayed');
  for (const f of fleet) assert.equal(f.acked.size, BEFORE_KILL + AROUND_KILL);
});

// What A acknowledged but had not yet written when it died is in its data dir
// when the transport is durable (the spool): restarting A there writes it. A
// reading A took but did not acknowledge before it died is also resent to B;
// both may write it, harmlessly (it overwrites itself), so no "once" here.
test('A restarts on its data dir: every reading a device saw acknowledged is stored', async () => {
  await a.restart();
  const res = await fetch(new URL('/readyz', a.apiUrl));
  assert.deepEqual(await res.json(), { ready: true, registry: true, store: true, broker: true, redis: true });
  const stored = await assertEventuallyStored();
  for (const { f, seq } of inFlight) {
    assert.ok(stored.get(f.device.pseudonym)?.includes(seq), 'a reading in flight at the kill was stored');
  }
});

test('a device can use the restarted instance again', async () => {
  // One device comes back to A (say, after the load balancer sent it there).
  const f = fleet[0];
  assert.ok(f);
  await f.client.endAsync();
  const back = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`, {
    username: f.device.login,
    password: f.device.secret,
    clientId: 'fleet-0',
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  try {
    const seq = f.published++;
    const body = JSON.stringify(validReading(f.device, seq, START + seq * 1_000));
    await back.publishAsync(f.device.telemetry, body, { qos: 1 });
    f.acked.add(seq);
  } finally {
    await back.endAsync(true);
  }
  await assertEventuallyStored();
});
