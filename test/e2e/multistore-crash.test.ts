/**
 * A tenant move killed in the middle (docs/stores.md: a move is resumable).
 * `skjold start` runs as its own process on two real influxd servers; devices
 * publish numbered QoS 1 readings throughout. Once writes have switched to
 * the target the process is SIGKILLed. After the restart the registry still
 * sends writes to the target, the same command finishes the move, and every
 * acknowledged reading is on the target and none on the source.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApiClient } from '../../cli/api-client.ts';
import type { TelemetryStore } from '../../store/telemetry-store.ts';
import { rows } from '../harness/influx-rows.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { type SkjoldProcess, startSkjoldProcess } from '../harness/skjold-process.ts';
import { addTenantFleet, eventually } from './devices.ts';
import { assertAllAckedStored, connectReconnecting, publishSequences } from './seq-publisher.ts';

const TENANT = 'afbrudtvarme';
const TOKEN = 'multistore-operator-token-0123456789';
const T0 = Date.now() - 3_600_000;

let a: InfluxdServer;
let b: InfluxdServer;
let onA: TelemetryStore;
let onB: TelemetryStore;
let skjold: SkjoldProcess | undefined;
let dir: string;

before(async () => {
  [a, b] = await Promise.all([startInfluxd(), startInfluxd()]);
  onA = adminStore(a);
  onB = adminStore(b);
  dir = mkdtempSync(join(tmpdir(), 'skjold-move-crash-'));
});
after(async () => {
  await skjold?.stop();
  await Promise.all([onA?.close(), onB?.close()]);
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const databases = async (store: TelemetryStore): Promise<string[]> =>
  (await rows(store, 'any', 'SHOW DATABASES')).map((r) => String(r.name));

test('a move killed after writes switched: after a restart writes stay on the target, running it again finishes it, nothing acknowledged is lost', async (t) => {
  const second = new URL(b.url);
  second.username = b.adminUser;
  second.password = b.adminPassword;
  skjold = await startSkjoldProcess({
    id: 'mover',
    dataDir: join(dir, 'data'),
    env: {
      SKJOLD_OPERATOR_TOKEN: TOKEN,
      SKJOLD_INFLUX_URL: a.url,
      SKJOLD_INFLUX_USER: a.adminUser,
      SKJOLD_INFLUX_PASSWORD: a.adminPassword,
      SKJOLD_INFLUX_STORES: `second=${second.href}`,
      SKJOLD_INFLUXD_MANAGED: 'false',
      SKJOLD_RETENTION_SCHEDULE: 'off',
      SKJOLD_MQTT_DEVICE_RATE: '1000',
      SKJOLD_MQTT_SOURCE_CONNECT_RATE: '1000',
      // The move waits 1 s + a write's deadline after switching: time enough to kill it there.
      SKJOLD_STORE_PLACEMENT_REFRESH_SECONDS: '1',
    },
  });
  const proc = skjold;
  const api = createApiClient({ url: proc.apiUrl, token: TOKEN });
  const devices = await addTenantFleet(api, TENANT, 3, ['sim_unit', 'heat_meter', 'building_sensor']);
  const clients = await connectReconnecting(`mqtt://127.0.0.1:${proc.mqttPort}`, devices);
  const pub = publishSequences(devices, clients, { ratePerDevice: 20, window: 20, t0: T0 });
  const incoming = async () =>
    (await api.call<Array<{ name: string; incoming: string[] }>>('GET', '/v1/stores')).some(
      (s) => s.name === 'second' && s.incoming.includes(TENANT),
    );
  try {
    await eventually('readings on the source', () => pub.acked() > 100);
    // The answer never comes: the process dies under it.
    const first = api
      .call('POST', `/v1/tenants/${TENANT}/move`, { to: 'second' })
      .catch((err: unknown) => err);
    await eventually('writes switched to the target', incoming);
    await proc.kill();
    assert.ok((await first) instanceof Error, 'the first move did not answer');
    const ackedAtKill = pub.acked();

    await proc.restart();
    assert.equal(await incoming(), true, 'after the restart the move is still recorded');
    await eventually(
      'readings acknowledged after the restart',
      () => pub.acked() > ackedAtKill + 100,
      60_000,
    );
    assert.ok((await databases(onA)).includes(`skjold_${TENANT}`), 'the source still holds its copy');

    const report = await api.call<{ moved: boolean; from: string; to: string }>(
      'POST',
      `/v1/tenants/${TENANT}/move`,
      { to: 'second' },
    );
    assert.deepEqual([report.moved, report.from, report.to], [true, 'default', 'second']);
    await eventually('more readings after the move', () => pub.acked() > ackedAtKill + 300, 60_000);
    await pub.finish();
    await eventually(
      'every acknowledged reading on the target',
      async () => {
        try {
          await assertAllAckedStored(onB, pub.streams);
          return true;
        } catch {
          return false;
        }
      },
      30_000,
    );
    // The spool replays what it had not checkpointed before the kill: rewrites are designed, so no written count.
    const checked = await assertAllAckedStored(onB, pub.streams);
    assert.equal(checked, pub.published());
    assert.ok(!(await databases(onA)).includes(`skjold_${TENANT}`), 'the source copy is dropped');
    const audit = await api.call<Array<{ action: string; detail: { resumed?: boolean } }>>(
      'GET',
      `/v1/audit?tenant=${TENANT}`,
    );
    const starts = audit.filter((e) => e.action === 'tenant.move.start').map((e) => e.detail.resumed);
    assert.deepEqual(starts.sort(), [false, true]);
    assert.equal(audit.filter((e) => e.action === 'tenant.move').length, 1);
    t.diagnostic(`${checked} acknowledged readings, all on the target after a killed and resumed move`);
  } finally {
    await pub.end();
  }
});
