/**
 * Moving a tenant between two real influxd servers, below the API: what is
 * copied (types, tags, many series and batches), what the registry records at
 * each step, erasure during a move, a move refused or resumed, and the old
 * copy dropped. The whole path under MQTT load is test/e2e/multistore.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AuditInput } from '../audit/audit-log.ts';
import { systemClock } from '../lib/clock.ts';
import { isSkjoldError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import type { Point } from '../lib/point.ts';
import { createTenantPlacement, type TenantPlacement } from '../registry/tenant-placement.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { openTestRegistry, type TestRegistry } from '../test/harness/registries.ts';
import { createInfluxV1Store } from './influx-v1.ts';
import { quoteIdentifier } from './influxql.ts';
import { createStoreRouter, type StoreRouter } from './store-router.ts';
import type { TelemetryStore } from './telemetry-store.ts';
import { createTenantMover, type TenantMover } from './tenant-move.ts';

const T0 = Date.UTC(2026, 0, 1);
let a: InfluxdServer;
let b: InfluxdServer;
let registry: TestRegistry;
let placement: TenantPlacement;
const audited: AuditInput[] = [];
const opened: StoreRouter[] = [];

before(async () => {
  [a, b] = await Promise.all([startInfluxd(), startInfluxd()]);
  registry = await openTestRegistry('pglite');
  placement = createTenantPlacement(registry.sql);
});
after(async () => {
  for (const r of opened) await r.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await registry?.close();
});

/** A router and mover as one Skjold instance has them (a restart is a new pair). */
function instance(batchPoints = 7): { router: StoreRouter; mover: TenantMover } {
  const router = createStoreRouter({
    stores: new Map<string, TelemetryStore>([
      ['default', adminStore(a)],
      ['b', createInfluxV1Store({ url: b.url, username: b.adminUser, password: b.adminPassword })],
    ]),
    placement,
    newTenantStore: 'default',
    refreshMs: 0,
  });
  opened.push(router);
  const mover = createTenantMover({
    router,
    placement,
    audit: { append: async (e: AuditInput) => void audited.push(e) } as never,
    clock: systemClock,
    logger: createLogger('silent'),
    settleMs: 0,
    batchPoints,
  });
  return { router, mover };
}

/** As the store writer does: the tenant's database first, then its points. */
async function seed(store: TelemetryStore, tenant: string, points: Point[]): Promise<void> {
  await store.ensureTenant(tenant);
  await store.write(tenant, points);
}

const databases = async (server: InfluxdServer): Promise<string[]> =>
  (await rows(adminStore(server), 'x', 'SHOW DATABASES')).map((r) => String(r.name));

/** `n` points on each of `devices` series of two measurements, with every field type. */
function fleet(devices: number, n: number): Point[] {
  const out: Point[] = [];
  for (let d = 0; d < devices; d++) {
    for (let i = 0; i < n; i++) {
      out.push({
        measurement: 'heat_meter',
        tags: { device: `p${d}`, purpose: "billing's, = \\ ok", ...(d % 2 ? { area: 'north' } : {}) },
        fields: { energy: d * 1000 + i + 0.5, pulses: i, ok: i % 2 === 0, note: `n "${i}"` },
        integerFields: ['pulses'],
        timestampMs: T0 + i * 1000,
      });
    }
    out.push({
      measurement: 'sim unit',
      tags: { device: `p${d}` },
      fields: { rssi: -70 - d },
      timestampMs: T0,
    });
  }
  return out;
}

test('a tenant is written to its own store; another tenant to its own', async () => {
  const { router } = instance();
  await placement.place('on-b', 'b');
  await seed(router, 'on-default', fleet(1, 2));
  await seed(router, 'on-b', fleet(1, 2));
  assert.ok((await databases(a)).includes('skjold_on-default'));
  assert.ok(!(await databases(a)).includes('skjold_on-b'));
  assert.ok((await databases(b)).includes('skjold_on-b'));
  assert.ok(!(await databases(b)).includes('skjold_on-default'));
  assert.equal((await rows(router, 'on-b', 'SELECT energy FROM heat_meter')).length, 2);
});

test('a move copies every series, field type and tag in batches, verifies, switches and drops the old copy', async () => {
  const { router, mover } = instance();
  const points = fleet(5, 23); // 23 points a series at 7 a batch: full and partial batches
  await seed(router, 'movable', points);
  const before = await rows(router, 'movable', 'SELECT * FROM heat_meter GROUP BY *');
  const types = await rows(router, 'movable', 'SHOW FIELD KEYS FROM heat_meter');

  const report = await mover.move('movable', 'b');
  assert.deepEqual(
    { moved: report.moved, from: report.from, to: report.to, measurements: report.measurements },
    { moved: true, from: 'default', to: 'b', measurements: 2 },
  );
  assert.equal(report.series, 10);
  assert.equal(report.points, points.length);
  assert.deepEqual(await placement.get('movable'), {
    tenantId: 'movable',
    store: 'b',
    movingTo: null,
    dropFrom: null,
  });
  assert.ok(!(await databases(a)).includes('skjold_movable'), 'the old copy is dropped');
  const onB = createInfluxV1Store({ url: b.url, username: b.adminUser, password: b.adminPassword });
  opened.push(onB as StoreRouter);
  assert.deepEqual(await rows(onB, 'movable', 'SELECT * FROM heat_meter GROUP BY *'), before);
  assert.deepEqual(await rows(onB, 'movable', 'SHOW FIELD KEYS FROM heat_meter'), types);
  assert.deepEqual(await rows(router, 'movable', 'SELECT * FROM heat_meter GROUP BY *'), before);
  const actions = audited.filter((e) => e.tenantId === 'movable').map((e) => e.action);
  assert.deepEqual(actions, ['tenant.move.start', 'tenant.move']);

  const again = await mover.move('movable', 'b');
  assert.equal(again.moved, false, 'a tenant already there is left alone');
});

test('while a move is recorded: writes go to the target, reads to the source, erasure to both; a restart keeps it so, and running the move again finishes it', async () => {
  const first = instance();
  await seed(first.router, 'halfway', fleet(2, 3));
  // As a move killed right after its switch leaves the registry.
  const begun = await placement.beginMove('halfway', 'b', new Date());
  await first.router.update(begun);

  const { router, mover } = instance(); // a restart: placement read from the registry
  await router.ensureTenant('halfway');
  const during = (device: string): Point => ({
    measurement: 'heat_meter',
    tags: { device },
    fields: { energy: 9 },
    timestampMs: T0 + 99_000,
  });
  await router.write('halfway', [during('p0'), during('p1')]);
  const onA = adminStore(a);
  const onB = createInfluxV1Store({ url: b.url, username: b.adminUser, password: b.adminPassword });
  opened.push(onA as StoreRouter, onB as StoreRouter);
  assert.equal(
    (await rows(onB, 'halfway', 'SELECT energy FROM heat_meter')).length,
    2,
    'the new writes are on b',
  );
  assert.equal((await rows(router, 'halfway', 'SELECT energy FROM heat_meter')).length, 6, 'reads from a');

  // Erasure of device p1 reaches both stores; the copy cannot bring it back.
  await router.execute('halfway', `DROP SERIES FROM heat_meter WHERE device = 'p1'`);
  assert.deepEqual(await rows(onB, 'halfway', `SELECT energy FROM heat_meter WHERE device = 'p1'`), []);
  await assert.rejects(
    router.execute('halfway', 'SELECT mean(energy) INTO heat_meter_agg FROM heat_meter GROUP BY time(1h)'),
    (err) => isSkjoldError(err, 'SKJOLD_ERR_MOVE_RUNNING'),
  );
  await assert.rejects(mover.move('halfway', 'default'), (err) =>
    isSkjoldError(err, 'SKJOLD_ERR_MOVE_RUNNING'),
  );

  const report = await mover.move('halfway', 'b');
  assert.equal(report.moved, true);
  const after = await rows(router, 'halfway', 'SELECT device, energy FROM heat_meter');
  assert.deepEqual([...new Set(after.map((r) => r.device))], ['p0']);
  assert.equal(after.length, 4, "p0's three copied points and the one written during the move");
  assert.ok(!(await databases(a)).includes('skjold_halfway'));
});

test('a second move of the same tenant while one runs is refused', async () => {
  const { router, mover } = instance(50);
  await seed(router, 'busy', fleet(20, 50));
  const running = mover.move('busy', 'b');
  await assert.rejects(mover.move('busy', 'b'), (err) => isSkjoldError(err, 'SKJOLD_ERR_MOVE_RUNNING'));
  assert.equal((await running).moved, true);
});

test('a move killed after its switch left the old copy: running it again drops it', async () => {
  const { router, mover } = instance();
  await seed(router, 'leftover', fleet(1, 3));
  const begun = await placement.beginMove('leftover', 'b', new Date());
  await router.update(begun);
  await router.store('b').ensureTenant('leftover');
  await router.store('b').write('leftover', fleet(1, 3));
  await router.update(await placement.finishMove('leftover', 'default', 'b'));
  assert.ok((await databases(a)).includes('skjold_leftover'));

  const report = await mover.move('leftover', 'b');
  assert.deepEqual({ moved: report.moved, dropped: report.dropped }, { moved: false, dropped: 'default' });
  assert.ok(!(await databases(a)).includes('skjold_leftover'));
  assert.equal((await placement.get('leftover'))?.dropFrom, null);
  assert.equal(quoteIdentifier(router.databaseFor('leftover')), '"skjold_leftover"');
});
