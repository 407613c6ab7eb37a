/**
 * Ingest killed for real (SPEC: "Nothing acknowledged is lost: QoS 1 messages
 * survive an ingest restart"). Skjold runs as its own process (`skjold start`,
 * embedded spool, PGlite registry in the data dir); devices publish numbered
 * streams at QoS 1 and it is killed with SIGKILL mid-stream, then started
 * again on the same data dir. The devices reconnect and resend what was not
 * acknowledged. Once, InfluxDB is down when Skjold dies, so acknowledged
 * points exist only in the spool and must be replayed from it. At the end
 * every acknowledged number is in InfluxDB, and nothing never published.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApiClient } from '../../cli/api-client.ts';
import { type ServerProcess, spawnServer, waitUntil } from '../../lib/process/server-process.ts';
import { createInfluxV1Store } from '../../store/influx-v1.ts';
import { freePorts } from '../harness/free-port.ts';
import { type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { addDevice, addTenant, eventually, identifierSource, type TestDevice } from './devices.ts';
import { metricValue, scrape } from './metrics.ts';
import { assertAllAckedStored, connectReconnecting, publishSequences } from './seq-publisher.ts';

const ROOT = join(import.meta.dirname, '../..');
const TOKEN = 'crash-test-operator-token-0123456789';
const T0 = Date.now() - 3_600_000;

let influx: InfluxdServer;
let dataDir: string;
let env: NodeJS.ProcessEnv;
let apiUrl: string;
let mqttUrl: string;
let skjold: ServerProcess | undefined;

/** `skjold start` on the test's data dir and ports; resolves when the API answers. */
async function startSkjold(): Promise<ServerProcess> {
  const proc = spawnServer(process.execPath, [join(ROOT, 'bin/skjold.ts'), 'start'], {
    name: 'skjold',
    logFile: join(dataDir, 'skjold.log'),
    env,
    cwd: ROOT,
  });
  await waitUntil(async () => (await fetch(new URL('/healthz', apiUrl))).ok, {
    what: 'skjold start',
    timeoutMs: 60_000,
    process: proc,
  });
  return proc;
}

before(async () => {
  influx = await startInfluxd();
  dataDir = mkdtempSync(join(tmpdir(), 'skjold-crash-'));
  const [mqttPort, apiPort] = await freePorts(2);
  apiUrl = `http://127.0.0.1:${apiPort}`;
  mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  env = {
    PATH: process.env.PATH,
    SKJOLD_DATA_DIR: dataDir,
    SKJOLD_TRANSPORT: 'spool',
    SKJOLD_LOG_LEVEL: 'info',
    SKJOLD_MQTT_HOST: '127.0.0.1',
    SKJOLD_MQTT_PORT: String(mqttPort),
    SKJOLD_API_PORT: String(apiPort),
    SKJOLD_INFLUX_URL: influx.url,
    SKJOLD_INFLUX_USER: influx.adminUser,
    SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
    SKJOLD_INFLUXD_MANAGED: 'false',
    SKJOLD_OPERATOR_TOKEN: TOKEN,
    SKJOLD_MQTT_DEVICE_RATE: '1000',
    SKJOLD_MQTT_CONNECT_RATE: '1000',
    SKJOLD_RETRY_MAX_MS: '300',
    SKJOLD_RETENTION_SCHEDULE: 'off',
  };
  skjold = await startSkjold();
});
after(async () => {
  await skjold?.stop('SIGTERM', 10_000);
  await influx.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function kill9(): Promise<void> {
  const info = await skjold?.stop('SIGKILL', 5_000);
  assert.equal(info?.signal, 'SIGKILL');
}

test('SIGKILL mid-stream, twice (once with InfluxDB down): every acknowledged message is in InfluxDB after restarts', async (t) => {
  const api = createApiClient({ url: apiUrl, token: TOKEN });
  const tenant = 'crash-a';
  await addTenant(api, tenant);
  const ids = identifierSource(tenant);
  const devices: TestDevice[] = [];
  for (const kind of ['sim_unit', 'heat_meter', 'building_sensor'] as const) {
    for (let i = 0; i < 3; i++) devices.push(await addDevice(api, ids, tenant, kind));
  }
  const clients = await connectReconnecting(mqttUrl, devices);
  const pub = publishSequences(devices, clients, { ratePerDevice: 50, window: 25, t0: T0 });
  try {
    // 1. Killed while devices publish and the store takes points.
    await eventually('messages flowing', () => pub.acked() > 500, 30_000);
    await kill9();
    const ackedAtFirstKill = pub.acked();
    skjold = await startSkjold();
    await eventually(
      'devices reconnected and acknowledged again',
      () => pub.acked() > ackedAtFirstKill + 500,
      60_000,
    );

    // 2. Killed while InfluxDB is down: acknowledged points are only in the spool.
    await influx.kill();
    const ackedAtOutage = pub.acked();
    await eventually('acknowledged from the spool alone', () => pub.acked() > ackedAtOutage + 500, 30_000);
    await kill9();
    const spooledOnly = pub.acked() - ackedAtOutage;
    await influx.restart();
    skjold = await startSkjold();
    await eventually('acknowledged again', () => pub.acked() > ackedAtOutage + spooledOnly + 300, 60_000);

    await pub.finish(60_000);
    await eventually(
      'the spool drained',
      async () => metricValue(await scrape(apiUrl), 'skjold_spool_records_pending') === 0,
      60_000,
    );
    const replayed = metricValue(await scrape(apiUrl), 'skjold_spool_replayed_total');
    assert.ok(replayed > 0, 'the second restart replayed points from the spool');
    const store = createInfluxV1Store({
      url: influx.url,
      username: influx.adminUser,
      password: influx.adminPassword,
    });
    try {
      // No points-written count: a restart replays from the last saved
      // checkpoint and writes some points again by design (they overwrite
      // themselves), and each process counts from zero.
      const checked = await assertAllAckedStored(store, pub.streams);
      t.diagnostic(
        `${checked} acknowledged messages, ${spooledOnly} of them acknowledged while InfluxDB was down, ${replayed} replayed from the spool after the second kill; all in InfluxDB`,
      );
    } finally {
      await store.close();
    }
  } finally {
    await pub.end();
  }
});
