import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Point } from '../lib/point.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { createIndexPurge } from './index-purge.ts';
import type { TelemetryStore } from './telemetry-store.ts';

let server: InfluxdServer;
let store: TelemetryStore;
const T0 = Date.UTC(2026, 0, 1);

before(async () => {
  server = await startInfluxd();
  store = adminStore(server);
  await store.ensureTenant('acme');
  const points: Point[] = [];
  for (let i = 0; i < 200; i++) {
    for (const device of ['v1.a', 'v1.b', 'v1.c', 'v1.d']) {
      points.push({
        measurement: 'heat_meter',
        tags: { device },
        fields: { energy_kwh: i },
        timestampMs: T0 + i * 900_000,
      });
    }
  }
  await store.write('acme', points);
});
after(async () => {
  await store?.close();
  await server?.stop();
});

const tagValues = async () =>
  (
    (await store.query('acme', 'SHOW TAG VALUES FROM heat_meter WITH KEY = "device"'))[0]?.series?.[0]
      ?.values ?? []
  ).map((r) => r[1]);

test('InfluxDB 1.6 keeps listing a series dropped after an earlier drop; a restart of influxd clears it', async () => {
  // This is the defect the purge exists for: if a fixed influxd stops showing it, the purge is merely unused.
  await store.execute('acme', `DROP SERIES FROM heat_meter WHERE device = 'v1.a'`);
  await store.execute('acme', `DROP SERIES FROM heat_meter WHERE device = 'v1.b'`);
  const series = (await store.query('acme', 'SHOW SERIES FROM heat_meter'))[0]?.series?.[0]?.values.map(
    (r) => r[0],
  );
  assert.deepEqual(series, ['heat_meter,device=v1.c', 'heat_meter,device=v1.d']);
  const listed = await tagValues();
  assert.ok(!listed.includes('v1.a'));
  assert.ok(listed.includes('v1.b'), `expected the stale value, got ${JSON.stringify(listed)}`);
});

test('without a way to restart influxd the leftover is reported as pending', async () => {
  const purge = createIndexPurge(store);
  assert.equal(purge.canPurge, false);
  assert.deepEqual(await purge.listed('acme', ['v1.a', 'v1.b', 'v1.c']), ['v1.b', 'v1.c']);
  const state = await purge.ensureGone('acme', ['v1.a', 'v1.b']);
  assert.equal(state.state, 'pending');
  assert.equal(state.state === 'pending' && state.stale, 1);
});

test('a tenant whose influxd Skjold does not run (another store): reported as pending, nothing restarted', async () => {
  const asked: string[] = [];
  const purge = createIndexPurge(store, async (tenantId) => {
    asked.push(tenantId);
    return false;
  });
  const state = await purge.ensureGone('acme', ['v1.b']);
  assert.equal(state.state, 'pending');
  assert.match(state.state === 'pending' ? state.action : '', /^restart InfluxDB:/);
  assert.deepEqual(asked, ['acme']);
  assert.ok((await tagValues()).includes('v1.b'), 'still listed: influxd was not restarted');
});

test('with a managed influxd, ensureGone restarts it once for callers at the same time, and the value is gone', async () => {
  let restarts = 0;
  const purge = createIndexPurge(store, async () => {
    restarts++;
    await server.restart();
  });
  const [one, two] = await Promise.all([
    purge.ensureGone('acme', ['v1.b']),
    purge.ensureGone('acme', ['v1.b']),
  ]);
  // Whichever caller saw the value listed restarted influxd; one restart served both.
  assert.ok([one.state, two.state].includes('purged'), JSON.stringify([one, two]));
  assert.ok([one, two].every((s) => s.state === 'purged' || s.state === 'clean'));
  assert.equal(restarts, 1);
  assert.deepEqual(await tagValues(), ['v1.c', 'v1.d']);
  assert.deepEqual(await purge.ensureGone('acme', ['v1.a', 'v1.b']), { state: 'clean' });
  // The kept devices' data survived the restart.
  const count = (await store.query('acme', 'SELECT count(energy_kwh) FROM heat_meter'))[0]?.series?.[0]
    ?.values[0]?.[1];
  assert.equal(count, 400);
});
