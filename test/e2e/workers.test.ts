/**
 * `skjold start` with SKJOLD_WORKERS=2: two worker processes share the MQTT
 * and API ports (node:cluster), each with its own spool, over one PostgreSQL
 * registry, one Redis and one InfluxDB. A fleet connects to the one port and
 * is spread over both workers; every acknowledged reading is stored once. A
 * worker killed with SIGKILL is started again on its own spool, and its
 * devices reconnect and resend what was not acknowledged.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
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

const TENANT = 'arbejdere';
const TOKEN = 'workers-operator-token-0123456789';
const DEVICES = 12;
const START = Date.now() - 3_600_000;

interface FleetDevice {
  device: TestDevice;
  client: MqttClient;
  acked: Set<number>;
  published: number;
}

let redis: RedisServer;
let postgres: PostgresServer;
let influx: InfluxdServer;
let store: TelemetryStore;
let skjold: SkjoldProcess;
let api: ApiClient;
let dataDir: string;
const fleet: FleetDevice[] = [];

before(async () => {
  [redis, postgres, influx] = await Promise.all([startRedis(), startPostgres(), startInfluxd()]);
  store = createInfluxV1Store({
    url: influx.url,
    username: influx.adminUser,
    password: influx.adminPassword,
    maxSockets: 2,
  });
  dataDir = mkdtempSync(join(tmpdir(), 'skjold-workers-'));
  skjold = await startSkjoldProcess({
    id: 'host',
    dataDir,
    env: {
      SKJOLD_WORKERS: '2',
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
      SKJOLD_MQTT_SOURCE_CONNECT_RATE: '1000',
      SKJOLD_LOG_LEVEL: 'info',
    },
  });
  api = createApiClient({ url: skjold.apiUrl, token: TOKEN });
  await addTenant(api, TENANT);
  const ids = identifierSource('workers');
  for (let i = 0; i < DEVICES; i++) {
    const device = await addDevice(api, ids, TENANT, DEVICE_KINDS[i % DEVICE_KINDS.length] ?? 'sim_unit');
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${skjold.mqttPort}`, {
      username: device.login,
      password: device.secret,
      clientId: `worker-fleet-${i}`,
      protocolVersion: 4,
      reconnectPeriod: 200,
      connectTimeout: 5_000,
    });
    fleet.push({ device, client, acked: new Set(), published: 0 });
  }
});

after(async () => {
  await Promise.all(fleet.map((f) => f.client.endAsync(true).catch(() => {})));
  await skjold?.stop();
  await store?.close();
  await Promise.all([influx?.stop(), postgres?.stop(), redis?.stop()]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Publishes `count` readings in order at QoS 1, each waiting for its PUBACK (through reconnects). */
async function publish(f: FleetDevice, count: number): Promise<void> {
  for (let n = 0; n < count; n++) {
    const seq = f.published++;
    await f.client.publishAsync(
      f.device.telemetry,
      JSON.stringify(validReading(f.device, seq, START + seq * 1_000)),
      {
        qos: 1,
      },
    );
    f.acked.add(seq);
  }
}

async function assertStoredOnce(): Promise<void> {
  const stored = new Map<string, number[]>();
  const read = async () => {
    stored.clear();
    for (const kind of DEVICE_KINDS) {
      for (const row of await rows(store, TENANT, `SELECT seq, device FROM ${kind}`)) {
        stored.set(String(row.device), [...(stored.get(String(row.device)) ?? []), Number(row.seq)]);
      }
    }
    return fleet.every((f) => (stored.get(f.device.pseudonym)?.length ?? 0) >= f.published);
  };
  await eventually('every published reading in InfluxDB', read, 30_000).catch(() => undefined);
  for (const f of fleet) {
    const seqs = stored.get(f.device.pseudonym) ?? [];
    assert.deepEqual(
      [...f.acked].filter((s) => !seqs.includes(s)),
      [],
      'acknowledged readings missing',
    );
    assert.equal(new Set(seqs).size, seqs.length, 'a reading stored twice');
  }
}

const spoolDir = (n: number) => join(dataDir, 'spool', `w${n}`);
const lockPid = (n: number) => Number(readFileSync(join(spoolDir(n), 'lock'), 'utf8').trim());
const spooledBytes = (n: number) =>
  readdirSync(spoolDir(n))
    .filter((f) => f !== 'lock' && !f.startsWith('checkpoint'))
    .reduce((sum, f) => sum + statSync(join(spoolDir(n), f)).size, 0);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('two workers on one port: the fleet is spread over both, each spools what it took, every reading stored once', async () => {
  assert.ok(existsSync(spoolDir(1)) && existsSync(spoolDir(2)), 'one spool directory per worker');
  const [pid1, pid2] = [lockPid(1), lockPid(2)];
  assert.notEqual(pid1, pid2);
  assert.ok(alive(pid1) && alive(pid2), 'each spool is held by a live worker');
  assert.notEqual(pid1, skjold.proc.pid, 'workers, not the primary, ingest');

  await withDeadline(Promise.all(fleet.map((f) => publish(f, 10))), 60_000, 'readings acknowledged');
  await assertStoredOnce();
  assert.ok(spooledBytes(1) > 0, 'worker 1 ingested part of the fleet');
  assert.ok(spooledBytes(2) > 0, 'worker 2 ingested part of the fleet');
});

test('a worker killed with SIGKILL is started again on its spool; its devices reconnect and nothing acknowledged is lost', async () => {
  const killed = lockPid(2);
  const streams = Promise.all(fleet.map((f) => publish(f, 20)));
  process.kill(killed, 'SIGKILL');
  await eventually('worker 2 started again', () => {
    const pid = existsSync(join(spoolDir(2), 'lock')) ? lockPid(2) : 0;
    return pid !== killed && pid > 0 && alive(pid);
  });
  await withDeadline(streams, 60_000, 'readings acknowledged after the restart');
  await assertStoredOnce();
});
