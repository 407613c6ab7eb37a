/**
 * Anonymised aggregates release no individual value: against a real InfluxDB,
 * random fleets are aggregated and every published value is compared with
 * every reading; groups under k are not written; k below 5 is refused, and a
 * registry holding such a policy is raised to 5; noise moves the published
 * sums and means by what its scale says, drawn from an injected seeded source.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { STORED_FIELDS } from '../ingest/schemas.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import { isSkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { migrate } from '../registry/migrate.ts';
import { createPgliteClient } from '../registry/pglite-client.ts';
import { createRegistry } from '../registry/registry.ts';
import type { SqlClient } from '../registry/sql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { type AnonymisePolicy, anonymise, anonymisedMeasurement } from './anonymise.ts';
import { CONTRIBUTION_BOUNDS } from './contribution-bounds.ts';
import { cryptoUniform, laplace, sumScale, type UniformSource } from './noise.ts';
import { createRetentionPolicies, MIN_ANONYMISE_K } from './policy.ts';

const TENANT = 'anonym';
const DAY = Date.parse('2025-02-10T00:00:00Z');
const POLICY: AnonymisePolicy = {
  anonymiseK: 5,
  anonymiseInterval: '1d',
  anonymiseGroup: 'area',
  anonymiseNoise: null,
};

let server: InfluxdServer;
let store: TelemetryStore;

before(async () => {
  server = await startInfluxd();
  store = adminStore(server);
  await store.ensureTenant(TENANT);
});
after(async () => {
  await store.close();
  await server.stop();
});

const numericFields = (kind: DeviceKind) =>
  Object.entries(STORED_FIELDS[kind])
    .filter(([, t]) => t !== 'string')
    .map(([f]) => f);

/** Seeded uniform source (mulberry32): the same draws every run. */
function seeded(seed: number): UniformSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Writes each device's readings (one object of field values per reading, 15
 * minutes apart from DAY) for a fresh contract, and returns it with the
 * pseudonym → owner map anonymise() takes.
 */
async function fleet(kind: DeviceKind, area: string, perDevice: Array<Array<Record<string, number>>>) {
  const contract = `c-${randomUUID().slice(0, 8)}`;
  const owners = new Map<string, { deviceId: string; area: string | null }>();
  const points: Point[] = [];
  perDevice.forEach((readings, d) => {
    const pseudonym = `v1.${randomUUID()}`;
    owners.set(pseudonym, { deviceId: `dev-${d}`, area });
    readings.forEach((fields, j) => {
      points.push({
        measurement: kind,
        tags: {
          tenant: TENANT,
          device: pseudonym,
          contract,
          role: 'controller',
          purpose: 'p',
          legal_basis: 'contract',
        },
        fields,
        timestampMs: DAY + j * 15 * 60_000,
      });
    });
  });
  await store.write(TENANT, points);
  return { contract, owners };
}

async function published(kind: DeviceKind, contract: string) {
  return rows(store, TENANT, `SELECT * FROM ${anonymisedMeasurement(kind)} WHERE contract = '${contract}'`);
}

/** The field values of a published group, without its tags and time. */
function values(row: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(row).filter(([k, v]) => typeof v === 'number' && k !== 'time') as Array<[string, number]>,
  );
}

describe('aggregates contain no individual value', () => {
  const FIELDS = numericFields('heat_meter');
  const SCALE = 2 ** 40;
  // Readings are drawn without bias from 2^40 evenly spaced values inside each
  // field's bound and are all distinct: that the mean or sum of five or more
  // devices' means equals one of them by chance has a probability near
  // 2^-40, so an equal value is a reading that was published.
  const reading = fc.record(
    Object.fromEntries(FIELDS.map((f) => [f, fc.noBias(fc.integer({ min: 1, max: SCALE - 1 }))])),
  ) as fc.Arbitrary<Record<string, number>>;
  const device = fc.array(reading, { minLength: 1, maxLength: 6 });
  const toValue = (f: string, x: number) => {
    const b = CONTRIBUTION_BOUNDS.heat_meter[f] ?? { lo: 0, hi: 0 };
    return b.lo + ((b.hi - b.lo) * x) / SCALE;
  };

  test('property: no published field of any group equals any reading or any device’s mean', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(device, { minLength: 5, maxLength: 9 }), async (raw) => {
        const perDevice = raw.map((readings) =>
          readings.map((r) => Object.fromEntries(FIELDS.map((f) => [f, toValue(f, r[f] ?? 0)]))),
        );
        const all = perDevice.flatMap((rs) => rs.flatMap((r) => Object.values(r)));
        fc.pre(new Set(all).size === all.length);
        const { contract, owners } = await fleet('heat_meter', 'Kvarter 1', perDevice);
        const result = await anonymise(store, TENANT, contract, 'heat_meter', owners, POLICY);
        assert.equal(result.groups, 1);
        const [group] = await published('heat_meter', contract);
        assert.ok(group);
        const v = values(group);
        assert.deepEqual(
          Object.keys(v).sort(),
          ['devices', ...FIELDS.flatMap((f) => [`${f}_mean`, `${f}_sum`])].sort(),
          'count, sum and mean only',
        );
        assert.equal(v.devices, perDevice.length);
        const deviceMeans = FIELDS.flatMap((f) =>
          perDevice.map((rs) => rs.reduce((a, r) => a + (r[f] ?? 0), 0) / rs.length),
        );
        const individual = new Set([...all, ...deviceMeans]);
        for (const [name, value] of Object.entries(v)) {
          assert.ok(!individual.has(value), `${name} = ${value} is one device's own value`);
        }
        // And they are what they say: the sum and mean of the devices' means.
        for (const f of FIELDS) {
          const sum = perDevice.reduce((a, rs) => a + rs.reduce((s, r) => s + (r[f] ?? 0), 0) / rs.length, 0);
          assert.ok(Math.abs((v[`${f}_sum`] ?? Number.NaN) - sum) <= 1e-9 * Math.abs(sum) + 1e-9, f);
          assert.ok(
            Math.abs((v[`${f}_mean`] ?? Number.NaN) - sum / perDevice.length) <= 1e-9 * Math.abs(sum) + 1e-9,
          );
        }
      }),
      { numRuns: 40 },
    );
  });

  test('a group of k − 1 devices yields nothing; a larger k per policy suppresses a group of 5', async () => {
    const sensor = (i: number) => [{ temperature_c: 20 + i, humidity_pct: 40, co2_ppm: 600, occupancy: 1 }];
    const four = await fleet('building_sensor', 'Lille', [0, 1, 2, 3].map(sensor));
    const r4 = await anonymise(store, TENANT, four.contract, 'building_sensor', four.owners, POLICY);
    assert.deepEqual([r4.groups, r4.suppressed], [0, 1]);
    assert.deepEqual(await published('building_sensor', four.contract), []);

    const five = await fleet('building_sensor', 'Fem', [0, 1, 2, 3, 4].map(sensor));
    const r6 = await anonymise(store, TENANT, five.contract, 'building_sensor', five.owners, {
      ...POLICY,
      anonymiseK: 6,
    });
    assert.deepEqual([r6.groups, r6.suppressed], [0, 1]);
    assert.deepEqual(await published('building_sensor', five.contract), []);
    const r5 = await anonymise(store, TENANT, five.contract, 'building_sensor', five.owners, POLICY);
    assert.deepEqual([r5.groups, r5.suppressed], [1, 0]);
    assert.equal((await published('building_sensor', five.contract))[0]?.temperature_c_mean, 22);
  });

  test('a field fewer than k of a published group’s devices reported is left out', async () => {
    const readings = [0, 1, 2, 3, 4, 5].map(
      (i): Array<Record<string, number>> => [
        i < 4
          ? { temperature_c: 20 + i, humidity_pct: 40, co2_ppm: 600 + i, occupancy: 1 }
          : { temperature_c: 20 + i, humidity_pct: 40, occupancy: 1 },
      ],
    );
    const { contract, owners } = await fleet('building_sensor', 'Delvis', readings);
    const r = await anonymise(store, TENANT, contract, 'building_sensor', owners, POLICY);
    assert.deepEqual([r.groups, r.fieldsWithheld], [1, 1]);
    const [group] = await published('building_sensor', contract);
    assert.equal(group?.co2_ppm_sum ?? null, null, 'four devices’ CO₂ is not published');
    assert.equal(group?.temperature_c_sum, 20 + 21 + 22 + 23 + 24 + 25);
  });
});

describe('noise', () => {
  test('Laplace draws have the scale they claim, from the injected source and from node:crypto', () => {
    for (const uniform of [seeded(7), cryptoUniform]) {
      const n = 20_000;
      const draws = Array.from({ length: n }, () => laplace(3, uniform));
      const meanAbs = draws.reduce((a, x) => a + Math.abs(x), 0) / n;
      const mean = draws.reduce((a, x) => a + x, 0) / n;
      // E|X| = b for Laplace(0, b); its standard error here is b/√n ≈ 0.02.
      assert.ok(Math.abs(meanAbs - 3) < 0.15, `mean |x| ${meanAbs}`);
      assert.ok(Math.abs(mean) < 0.15, `mean ${mean}`);
    }
    const u = Array.from({ length: 1000 }, cryptoUniform);
    assert.ok(u.every((x) => x >= 0 && x < 1));
    assert.ok(new Set(u).size === u.length);
  });

  test('with ε set, each published sum and mean moves by the seeded draw of its scale, and nothing else does', async () => {
    const readings = [0, 1, 2, 3, 4, 5].map((i) => [
      { temperature_c: 19 + i, humidity_pct: 35 + i, co2_ppm: 500 + 10 * i, occupancy: i },
    ]);
    const { contract, owners } = await fleet('building_sensor', 'Støj', readings);
    await anonymise(store, TENANT, contract, 'building_sensor', owners, POLICY);
    const exact = values((await published('building_sensor', contract))[0] ?? {});
    const epsilon = 2;
    const result = await anonymise(
      store,
      TENANT,
      contract,
      'building_sensor',
      owners,
      { ...POLICY, anonymiseNoise: { epsilon } },
      seeded(42),
    );
    const noisy = values((await published('building_sensor', contract))[0] ?? {});
    assert.equal(noisy.devices, 6, 'the count is exact');
    const fields = numericFields('building_sensor');
    const replay = seeded(42);
    for (const f of fields) {
      const bound = CONTRIBUTION_BOUNDS.building_sensor[f] ?? { lo: 0, hi: 0 };
      const scale = sumScale(bound, fields.length, epsilon);
      assert.equal(result.noise?.sumScale[f], scale);
      const draw = laplace(scale, replay);
      const moved = (noisy[`${f}_sum`] ?? 0) - (exact[`${f}_sum`] ?? 0);
      assert.ok(Math.abs(moved - draw) < 1e-6 * scale, `${f}: moved ${moved}, drew ${draw}`);
      assert.notEqual(moved, 0);
      // Plausible: P(|Laplace(b)| > 15b) = e^-15.
      assert.ok(Math.abs(moved) < 15 * scale, `${f}: ${moved} against scale ${scale}`);
      assert.ok(Math.abs((noisy[`${f}_mean`] ?? 0) - (noisy[`${f}_sum`] ?? 0) / 6) < 1e-9 * scale);
    }
  });
});

describe('k is at least 5', () => {
  let sql: SqlClient;
  before(async () => {
    sql = await freshPglite();
    const registry = createRegistry(sql);
    await registry.createTenant({ id: TENANT, name: 'Anonym' });
    await registry.createContract({
      id: 'heat',
      tenantId: TENANT,
      role: 'controller',
      purpose: 'statistics',
      legalBasis: 'contract',
      startsOn: '2025-01-01',
      endsOn: null,
      jurisdiction: 'DK',
      gpsGridMeters: null,
    });
  });
  after(() => sql.close());

  test('a policy with k below 5, or a noise ε out of range, is refused naming the bound', async () => {
    const policies = createRetentionPolicies(sql);
    for (const k of [1, 2, 4]) {
      await assert.rejects(
        policies.set(TENANT, 'heat', { anonymiseK: k }),
        (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_VALIDATION') && /at least 5/.test(err.message),
      );
    }
    await assert.rejects(
      policies.set(TENANT, 'heat', { anonymiseNoise: { epsilon: 0 } }),
      (err: unknown) =>
        isSkjoldError(err, 'SKJOLD_ERR_VALIDATION') && /epsilon must be at least 0.01/.test(err.message),
    );
    assert.equal((await policies.get(TENANT, 'heat')).anonymiseK, MIN_ANONYMISE_K);
    const set = await policies.set(TENANT, 'heat', { anonymiseK: 7, anonymiseNoise: { epsilon: 0.5 } });
    assert.deepEqual([set.anonymiseK, set.anonymiseNoise], [7, { epsilon: 0.5 }]);
    assert.deepEqual((await policies.get(TENANT, 'heat')).anonymiseNoise, { epsilon: 0.5 });
    await policies.set(TENANT, 'heat', { anonymiseNoise: null });
    assert.equal((await policies.get(TENANT, 'heat')).anonymiseNoise, null);
    // The registry refuses it too, whoever writes.
    await assert.rejects(sql.query('UPDATE retention_policies SET anonymise_k = 3'));
  });

  test('migration 011 raises a stored k below 5 to 5 and keeps larger ones', async (t) => {
    const old = await createPgliteClient();
    t.after(() => old.close());
    await migrate(old, { upTo: 10 });
    const registry = createRegistry(old);
    await registry.createTenant({ id: TENANT, name: 'Anonym' });
    for (const id of ['two', 'nine']) {
      await registry.createContract({
        id,
        tenantId: TENANT,
        role: 'controller',
        purpose: 'statistics',
        legalBasis: 'contract',
        startsOn: '2025-01-01',
        endsOn: null,
        jurisdiction: 'DK',
        gpsGridMeters: null,
      });
    }
    await old.query(
      `INSERT INTO retention_policies (tenant_id, contract_id, telemetry_action, grace_months,
         billing_period_months, fiscal_year_end_month, anonymise_k, anonymise_interval)
       VALUES ($1, 'two', 'anonymise', 12, 1, 12, 2, '1d'), ($1, 'nine', 'anonymise', 12, 1, 12, 9, '1d')`,
      [TENANT],
    );
    assert.deepEqual(await migrate(old, { upTo: 11 }), [11]);
    // The policies as today's code reads them, with every later column.
    await migrate(old);
    const policies = createRetentionPolicies(old);
    assert.equal((await policies.get(TENANT, 'two')).anonymiseK, 5);
    assert.equal((await policies.get(TENANT, 'nine')).anonymiseK, 9);
    assert.equal((await policies.get(TENANT, 'two')).anonymiseNoise, null);
  });
});
