/**
 * Aggregates an older Skjold published — with each group's minimum, maximum
 * and reading count, and groups of two devices — are rewritten by retention
 * against a real InfluxDB: small groups go, the rest keep their count and
 * means; a plan changes nothing; a run killed between dropping and writing
 * finishes on the next run from what the registry recorded.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Point } from '../lib/point.ts';
import type { SqlClient } from '../registry/sql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { legacyAggregates } from './legacy-aggregates.ts';
import { createRetentionProgress } from './progress.ts';

const TENANT = 'gammel';
const M = 'building_sensor_anonymised';
const DAY = Date.parse('2024-05-01T00:00:00Z');

let server: InfluxdServer;
let store: TelemetryStore;
let sql: SqlClient;

const group = (contract: string, area: string, day: number, fields: Record<string, number>): Point => ({
  measurement: M,
  tags: { area, kind: 'building_sensor', contract },
  fields,
  integerFields: ['devices', 'readings'].filter((f) => f in fields),
  timestampMs: DAY + day * 86_400_000,
});

const legacy = (devices: number) => ({
  devices,
  readings: devices * 96,
  temperature_c_mean: 21.5,
  temperature_c_min: 18.25,
  temperature_c_max: 24.75,
});

before(async () => {
  server = await startInfluxd();
  store = adminStore(server);
  sql = await freshPglite();
  await store.ensureTenant(TENANT);
  await store.write(TENANT, [
    // As an older Skjold wrote them: six devices in A on two days, two devices in B.
    group('old', 'A', 0, legacy(6)),
    group('old', 'A', 1, legacy(6)),
    group('old', 'B', 0, legacy(2)),
    group('kill', 'A', 0, legacy(7)),
    // As this one writes them.
    group('new', 'A', 0, { devices: 5, temperature_c_sum: 100, temperature_c_mean: 20 }),
  ]);
});
after(async () => {
  await store.close();
  await sql.close();
  await server.stop();
});

const contractRows = (contract: string) =>
  rows(store, TENANT, `SELECT * FROM ${M} WHERE contract = '${contract}' GROUP BY area`);
/** The fields a row holds values for. */
const held = (r: Record<string, unknown>) =>
  Object.keys(r)
    .filter((k) => typeof r[k] === 'number' && k !== 'time')
    .sort();

test('a plan counts the older groups and changes nothing', async () => {
  const progress = createRetentionProgress(sql, TENANT);
  const planned = await legacyAggregates(store, TENANT, progress, 'plan', 'plan');
  assert.deepEqual(planned, { contracts: 2, rewritten: 3, removed: 1 });
  assert.equal((await contractRows('old')).length, 3);
});

test('a run killed between dropping and writing finishes on the next run', async () => {
  const progress = createRetentionProgress(sql, TENANT);
  const failing: TelemetryStore = {
    ...store,
    async write(tenantId, points) {
      if (points.some((p) => p.tags.contract === 'kill')) throw new Error('influxd went away');
      return store.write(tenantId, points);
    },
  };
  await assert.rejects(legacyAggregates(failing, TENANT, progress, 'run', 'run-1'), /influxd went away/);
  assert.deepEqual(await contractRows('kill'), [], 'dropped, not yet written');

  const done = await legacyAggregates(store, TENANT, progress, 'run', 'run-2');
  // `kill` comes first (series sort by area, then contract): `old` was not reached before.
  assert.deepEqual(done, { contracts: 2, rewritten: 3, removed: 1 });
  const [kill] = await contractRows('kill');
  assert.deepEqual(held(kill ?? {}), ['devices', 'temperature_c_mean']);
  assert.equal(kill?.devices, 7);
});

test('groups under five devices are gone; the others keep their count and means, no min, max or reading count', async () => {
  const old = await contractRows('old');
  assert.deepEqual(
    old.map((r) => [r.area, r.devices, r.temperature_c_mean]),
    [
      ['A', 6, 21.5],
      ['A', 6, 21.5],
    ],
  );
  for (const r of old) assert.deepEqual(held(r), ['devices', 'temperature_c_mean']);
  const minMax = await rows(store, TENANT, `SELECT /_(min|max)$|^readings$/ FROM ${M}`);
  assert.deepEqual(minMax, [], 'no minimum, maximum or reading count is stored any more');
  const [fresh] = await contractRows('new');
  assert.deepEqual(
    [fresh?.devices, fresh?.temperature_c_sum, fresh?.temperature_c_mean],
    [5, 100, 20],
    'current aggregates are left as they are',
  );
  const again = await legacyAggregates(store, TENANT, createRetentionProgress(sql, TENANT), 'run', 'run-3');
  assert.deepEqual(again, { contracts: 0, rewritten: 0, removed: 0 });
});

test('a tenant without a database has no older aggregates', async () => {
  const progress = createRetentionProgress(sql, 'tom');
  assert.deepEqual(await legacyAggregates(store, 'tom', progress, 'run', 'run-4'), {
    contracts: 0,
    rewritten: 0,
    removed: 0,
  });
});
