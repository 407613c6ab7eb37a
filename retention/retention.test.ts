/**
 * Time travel: contracts end, the clock moves past end + grace, and a
 * retention run deletes or anonymises exactly what it should, counted in a
 * real InfluxDB before and after; billing readings survive with only their
 * values; a legal hold protects what it covers; a killed run resumes. The
 * registry is PGlite in one run and PostgreSQL in the other.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createAuditLog } from '../audit/audit-log.ts';
import { manualClock } from '../lib/clock.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import type { Point } from '../lib/point.ts';
import { openKeyStore } from '../pseudonymizer/keystore.ts';
import type { LoginType } from '../registry/enrolment.ts';
import { createRegistry, type Registry } from '../registry/registry.ts';
import type { SqlClient } from '../registry/sql.ts';
import { createSealer } from '../requests/sealing.ts';
import { createIndexPurge } from '../store/index-purge.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { forEachRegistry, openTestRegistry, type TestRegistry } from '../test/harness/registries.ts';
import { sharedKeys } from '../test/harness/shared-keys.ts';
import { createLegalHolds, type LegalHold } from './holds.ts';
import {
  createRetention,
  type RetentionDeps,
  type RetentionReport,
  runRetentionForTenant,
} from './retention.ts';

forEachRegistry((backend) => {
  const TENANT = 'fjernvarme';
  const QUARTER_HOUR = 15 * 60_000;
  const LOGIN: Record<DeviceKind, LoginType> = {
    heat_meter: 'wmbus',
    sim_unit: 'iccid',
    building_sensor: 'serial',
  };

  let server: InfluxdServer;
  let store: TelemetryStore;
  let sql: SqlClient;
  let registry: Registry;
  let testRegistry: TestRegistry;
  const clock = manualClock('2025-03-01T02:00:00Z');
  let deps: RetentionDeps;

  interface Dev {
    id: string;
    pseudonyms: string[];
  }
  const devices: Record<string, Dev> = {};

  async function addContract(
    id: string,
    c: { role: 'controller' | 'processor'; jurisdiction: 'DK' | 'SE'; endsOn: string | null },
  ) {
    await registry.createContract({
      tenantId: TENANT,
      id,
      role: c.role,
      purpose: `${id} telemetry`,
      legalBasis: 'contract',
      startsOn: '2025-01-01',
      endsOn: c.endsOn,
      jurisdiction: c.jurisdiction,
      gpsGridMeters: null,
    });
  }

  /** A device with `versions` login pseudonyms (a key rotation gives a second one). */
  async function addDevice(
    name: string,
    contractId: string,
    kind: DeviceKind,
    area: string | null,
    versions = 1,
  ) {
    const id = randomUUID();
    const pseudonyms = Array.from(
      { length: versions },
      (_, v) => `v${v + 1}.${name}${randomUUID().slice(0, 8)}`,
    );
    await registry.createDevice({
      id,
      tenantId: TENANT,
      contractId,
      kind,
      loginHash: randomUUID(),
      loginType: LOGIN[kind],
      credentialHash: 'x',
      pseudonyms: pseudonyms.map((pseudonym, v) => ({ keyVersion: v + 1, idType: LOGIN[kind], pseudonym })),
      area,
    });
    devices[name] = { id, pseudonyms };
    return devices[name];
  }

  const FIELDS: Record<DeviceKind, (i: number) => Record<string, number | string>> = {
    heat_meter: (i) => ({
      energy_kwh: 1000 + i,
      volume_m3: 10 + i / 100,
      flow_temp_c: 70,
      return_temp_c: 40,
      power_kw: 5,
      flow_m3h: 0.2,
      status: 'ok',
    }),
    sim_unit: () => ({ rssi_dbm: -70, rsrp_dbm: -90, rsrq_db: -10, country: 'DK' }),
    building_sensor: (i) => ({ temperature_c: 20 + (i % 4), humidity_pct: 40, co2_ppm: 600, occupancy: 1 }),
  };

  /** 15-minute readings from `from` for `days`; the device's pseudonyms take turns in equal spans. */
  async function readings(d: Dev, contractId: string, kind: DeviceKind, from: string, days: number) {
    const points: Point[] = [];
    const n = days * 96;
    for (let i = 0; i < n; i++) {
      const pseudonym = d.pseudonyms[Math.floor((i * d.pseudonyms.length) / n)] ?? '';
      points.push({
        measurement: kind,
        tags: {
          tenant: TENANT,
          device: pseudonym,
          contract: contractId,
          role: 'processor',
          purpose: 'p',
          legal_basis: 'contract',
        },
        fields: FIELDS[kind](i),
        integerFields: kind === 'building_sensor' ? ['co2_ppm', 'occupancy'] : [],
        timestampMs: Date.parse(`${from}T00:00:00Z`) + i * QUARTER_HOUR,
      });
    }
    await store.write(TENANT, points);
  }

  async function countPoints(measurement: string, field: string, where = 'time > 0'): Promise<number> {
    const r = await rows(store, TENANT, `SELECT count(${field}) FROM ${measurement} WHERE ${where}`);
    return Number(r[0]?.count ?? 0);
  }

  /**
   * The device tag values InfluxDB's index holds for the measurement: asked with
   * a WHERE (answered from the series index) and checked against the series
   * still listed. InfluxDB 1.6 answers an unfiltered SHOW TAG VALUES from a
   * per-measurement cache it refreshes only on restart (store/index-purge.ts).
   */
  async function tagValues(measurement: string): Promise<string[]> {
    const filtered = await rows(
      store,
      TENANT,
      `SHOW TAG VALUES FROM ${measurement} WITH KEY = device WHERE device =~ /./`,
    );
    const series = await rows(store, TENANT, `SHOW SERIES FROM ${measurement}`);
    const values = filtered.map((x) => String(x.value)).sort();
    assert.deepEqual(
      [...new Set(series.map((s) => /device=([^,]+)/.exec(String(s.key))?.[1]))].sort(),
      values,
    );
    return values;
  }

  /** Every device tag value InfluxDB lists, unfiltered: what a dashboard's variable query shows. */
  async function allTagValues(): Promise<string[]> {
    const r = await rows(store, TENANT, 'SHOW TAG VALUES WITH KEY = device');
    return r.map((x) => String(x.value)).sort();
  }

  const contractOf = (r: RetentionReport | undefined, id: string) => {
    const c = r?.contracts.find((x) => x.contractId === id);
    assert.ok(c, `contract ${id} in the report`);
    return c;
  };

  /** The store, failing every statement `fail` picks, and counting statements and writes. */
  function instrumented(inner: TelemetryStore, fail: (q: string) => boolean = () => false) {
    const log = { statements: [] as string[], writes: [] as string[] };
    const wrapped: TelemetryStore = {
      ...inner,
      async execute(tenantId, q) {
        if (fail(q)) throw new Error('influxd went away');
        log.statements.push(q);
        return inner.execute(tenantId, q);
      },
      async write(tenantId, points) {
        log.writes.push(...points.map((p) => `${p.measurement}:${p.tags.device ?? ''}`));
        return inner.write(tenantId, points);
      },
    };
    return { store: wrapped, log };
  }

  let hold: LegalHold;

  before(async () => {
    server = await startInfluxd();
    store = adminStore(server);
    testRegistry = await openTestRegistry(backend);
    sql = testRegistry.sql;
    registry = createRegistry(sql);
    const holds = createLegalHolds(
      sql,
      createSealer(await openKeyStore({ envValue: await sharedKeys([TENANT]) })),
    );
    deps = {
      registry,
      store,
      holds,
      audit: createAuditLog(sql, { key: randomBytes(32), clock }),
      clock,
      indexPurge: createIndexPurge(store, () => server.restart()),
    };
    await registry.createTenant({ id: TENANT, name: 'Fjernvarme' });
    await store.ensureTenant(TENANT);

    await addContract('heat-dk', { role: 'processor', jurisdiction: 'DK', endsOn: '2025-02-28' });
    await addContract('heat-se', { role: 'controller', jurisdiction: 'SE', endsOn: '2025-02-28' });
    await addContract('late', { role: 'processor', jurisdiction: 'DK', endsOn: '2025-12-31' });
    await addContract('running', { role: 'controller', jurisdiction: 'DK', endsOn: null });
    await addContract('sensors', { role: 'controller', jurisdiction: 'SE', endsOn: '2025-02-28' });
    await createRetention(deps).policies.set(TENANT, 'sensors', {
      telemetryAction: 'anonymise',
      anonymiseK: 5,
    });
    await addContract('fleet', { role: 'controller', jurisdiction: 'DK', endsOn: '2025-02-28' });
    await createRetention(deps).policies.set(TENANT, 'fleet', {
      telemetryAction: 'anonymise',
      anonymiseGroup: 'contract',
      anonymiseInterval: '7d',
    });

    // Heat meters: 10 days across the January/February billing boundary; h1 was rekeyed halfway.
    for (const [name, versions] of [
      ['h1', 2],
      ['h2', 1],
      ['h3', 1],
    ] as const) {
      await readings(
        await addDevice(name, 'heat-dk', 'heat_meter', null, versions),
        'heat-dk',
        'heat_meter',
        '2025-01-27',
        10,
      );
    }
    await readings(
      await addDevice('hse', 'heat-se', 'heat_meter', null),
      'heat-se',
      'heat_meter',
      '2025-02-20',
      2,
    );
    await readings(await addDevice('late1', 'late', 'sim_unit', null), 'late', 'sim_unit', '2025-02-01', 2);
    await readings(
      await addDevice('run1', 'running', 'sim_unit', null),
      'running',
      'sim_unit',
      '2025-02-01',
      2,
    );
    // Sensors: six in building A (published), two in building B and one without an area (suppressed).
    const sensors = [...Array(6).fill('Bygning A'), 'Bygning B', 'Bygning B', null] as (string | null)[];
    for (const [i, area] of sensors.entries()) {
      await readings(
        await addDevice(`s${i}`, 'sensors', 'building_sensor', area),
        'sensors',
        'building_sensor',
        '2025-02-10',
        3,
      );
    }
    // A fleet of SIM units without areas, anonymised as one group per week.
    for (let i = 0; i < 5; i++) {
      await readings(
        await addDevice(`f${i}`, 'fleet', 'sim_unit', null),
        'fleet',
        'sim_unit',
        '2025-02-03',
        2,
      );
    }
    hold = await holds.create({
      tenantId: TENANT,
      scope: 'device',
      target: devices.h3?.id ?? '',
      reason: 'billing dispute',
    });
  });

  after(async () => {
    await store.close();
    await testRegistry.close();
    await server.stop();
  });

  describe('retention over time', () => {
    test('before end + 1 year nothing is due, and a run changes nothing', async () => {
      const [plan] = await createRetention(deps).plan(TENANT);
      const dk = contractOf(plan, 'heat-dk');
      assert.equal(dk.status, 'not_due');
      assert.equal(dk.dueOn, '2026-03-01');
      assert.deepEqual(dk.telemetry.affected.heat_meter, { devices: 3, series: 4, points: 2880 });
      assert.match(dk.notices.join(' '), /full export .* before 2026-03-01/);
      assert.equal(contractOf(plan, 'running').status, 'running');

      clock.set('2026-02-28T23:00:00Z');
      const [receipt] = await createRetention(deps).run(TENANT);
      assert.ok(receipt?.contracts.every((c) => c.status !== 'due'));
      assert.equal(await countPoints('heat_meter', 'energy_kwh'), 3 * 960 + 192);
      assert.equal(await countPoints('building_sensor', 'temperature_c'), 9 * 288);
    });

    test('DK and SE contracts keep billing readings to different dates', async () => {
      const [plan] = await createRetention(deps).plan(TENANT);
      // DK: fiscal year 2025 ends 2025-12-31, + 5 years. SE: the seventh year after 2025, to its end.
      assert.equal(contractOf(plan, 'heat-dk').billing.keepUntil, '2031-01-01');
      assert.equal(contractOf(plan, 'heat-se').billing.keepUntil, '2033-01-01');
    });

    test('the plan at end + 1 year names what goes, what stays and the hold, and changes nothing', async () => {
      clock.set('2026-03-01T02:00:00Z');
      const [plan] = await createRetention(deps).plan(TENANT);
      const dk = contractOf(plan, 'heat-dk');
      assert.equal(dk.status, 'due');
      assert.equal(dk.telemetry.action, 'delete');
      assert.deepEqual(dk.telemetry.affected.heat_meter, { devices: 2, series: 3, points: 1920 });
      assert.deepEqual(dk.telemetry.held.heat_meter, { devices: 1, series: 1, points: 960 });
      assert.deepEqual(
        dk.held.map((h) => h.holds.map((x) => x.id)),
        [[hold.id]],
      );
      assert.equal(dk.billing.devicesReduced, 2);
      const sensors = contractOf(plan, 'sensors');
      assert.equal(sensors.telemetry.action, 'anonymise');
      assert.match(sensors.rule, /k = 5; count, sum and mean only\)/);
      assert.equal(sensors.anonymisation?.k, 5);
      assert.equal(sensors.anonymisation?.noise, null);
      assert.match(
        sensors.anonymisation?.published ?? '',
        /`<field>_sum` and `<field>_mean`.*no minimum, maximum/,
      );
      assert.equal(
        contractOf(plan, 'heat-dk').anonymisation,
        undefined,
        'a deleting contract publishes nothing',
      );
      assert.equal(contractOf(plan, 'late').status, 'not_due');
      assert.equal(await countPoints('heat_meter', 'energy_kwh'), 3 * 960 + 192);
      assert.equal(await countPoints('billing_reading', 'energy_kwh'), 0);
    });

    test('a run killed halfway fails loudly, and the re-run resumes without redoing finished steps', async () => {
      let drops = 0;
      const killed = instrumented(
        store,
        (q) => q.startsWith('DROP SERIES FROM "heat_meter"') && ++drops === 2,
      );
      await assert.rejects(createRetention({ ...deps, store: killed.store }).run(TENANT), {
        code: 'SKJOLD_ERR_RETENTION',
      });
      // Billing readings were written (both meters, two periods), one meter's series dropped.
      assert.equal(await countPoints('billing_reading', 'energy_kwh'), 4);
      const killedMeterDrops = killed.log.statements.filter((q) =>
        q.startsWith('DROP SERIES FROM "heat_meter"'),
      );
      assert.equal(killedMeterDrops.length, 1);

      const resumed = instrumented(store);
      const [receipt] = await createRetention({ ...deps, store: resumed.store }).run(TENANT);
      const dk = contractOf(receipt, 'heat-dk');
      // billing × 2 and the first drop were done; not redone.
      assert.equal(dk.skippedSteps, 3);
      const [h1, h2] = [devices.h1?.pseudonyms ?? [], devices.h2?.pseudonyms ?? []];
      const billingWrites = resumed.log.writes.filter((w) => w.startsWith('billing_reading:'));
      assert.deepEqual(
        billingWrites,
        [`billing_reading:${devices.hse?.pseudonyms[0]}`],
        'only the SE meter is new',
      );
      const meterDrops = resumed.log.statements.filter((q) =>
        q.startsWith('DROP SERIES FROM "heat_meter" WHERE device'),
      );
      // Devices go in registry order: whichever meter the killed run dropped is not dropped again.
      const named = (q: string | undefined, ps: string[]) =>
        ps.some((p) => q?.replaceAll('\\', '').includes(p));
      const [doneFirst, other] = named(killedMeterDrops[0], h1) ? [h1, h2] : [h2, h1];
      assert.ok(!meterDrops.some((q) => named(q, doneFirst)), 'a dropped meter is not dropped twice');
      assert.equal(meterDrops.filter((q) => named(q, other)).length, 1);
      assert.equal(dk.held[0]?.holds[0]?.id, hold.id, 'the receipt names the hold');
      assert.ok(['clean', 'purged'].includes(receipt?.index?.state ?? ''), JSON.stringify(receipt?.index));
    });

    test('afterwards exactly the due, unheld telemetry is gone, from the index too', async () => {
      const h3 = devices.h3?.pseudonyms ?? [];
      assert.deepEqual(await tagValues('heat_meter'), h3);
      assert.equal(await countPoints('heat_meter', 'energy_kwh', "contract = 'heat-dk'"), 960);
      assert.equal(await countPoints('heat_meter', 'energy_kwh', "contract = 'heat-se'"), 0);
      assert.deepEqual(await tagValues('building_sensor'), []);
      // Sensors keep nothing: after the run's index purge not even an unfiltered listing names them.
      const listed = await allTagValues();
      for (let i = 0; i < 9; i++) {
        for (const p of devices[`s${i}`]?.pseudonyms ?? [])
          assert.ok(!listed.includes(p), `${p} is not listed`);
      }
      // Not due yet, or still running: untouched.
      assert.equal(await countPoints('sim_unit', 'rssi_dbm'), 2 * 192);
    });

    test('billing readings survive with only the register values at each period end', async () => {
      const keys = await rows(store, TENANT, 'SHOW FIELD KEYS FROM billing_reading');
      assert.deepEqual(keys.map((k) => k.fieldKey).sort(), ['energy_kwh', 'volume_m3']);
      const h2 = devices.h2?.pseudonyms[0] ?? '';
      const r = await rows(
        store,
        TENANT,
        `SELECT energy_kwh, volume_m3, period FROM billing_reading WHERE device = '${h2}'`,
      );
      // h2 reads 1000 + i from 2025-01-27 00:00, every 15 minutes: the last January reading is i = 5 × 96 − 1.
      assert.deepEqual(
        r.map((x) => [x.period, x.energy_kwh]),
        [
          ['2025-01', 1000 + 5 * 96 - 1],
          ['2025-02', 1000 + 10 * 96 - 1],
        ],
      );
      // h1's readings come from both of its pseudonyms' series; the SE meter has its own.
      assert.equal(await countPoints('billing_reading', 'energy_kwh', "contract = 'heat-dk'"), 4);
      assert.equal(await countPoints('billing_reading', 'energy_kwh', "contract = 'heat-se'"), 1);
    });

    test('anonymised sensors: area × day groups of at least k devices, no device tag; smaller groups suppressed', async () => {
      const tagKeys = await rows(store, TENANT, 'SHOW TAG KEYS FROM building_sensor_anonymised');
      assert.deepEqual(tagKeys.map((k) => k.tagKey).sort(), ['area', 'contract', 'kind']);
      const fieldKeys = await rows(store, TENANT, 'SHOW FIELD KEYS FROM building_sensor_anonymised');
      assert.deepEqual(
        fieldKeys.map((k) => k.fieldKey).sort(),
        [
          'co2_ppm_mean',
          'co2_ppm_sum',
          'devices',
          'humidity_pct_mean',
          'humidity_pct_sum',
          'occupancy_mean',
          'occupancy_sum',
          'temperature_c_mean',
          'temperature_c_sum',
        ],
        'count, sum and mean: no minimum, maximum or reading count',
      );
      const groups = await rows(store, TENANT, 'SELECT * FROM building_sensor_anonymised');
      assert.equal(groups.length, 3);
      for (const g of groups) {
        assert.equal(g.area, 'Bygning A');
        assert.equal(g.devices, 6);
        // Each device's day reads 20, 21, 22, 23 in turn: its mean is 21.5.
        assert.equal(g.temperature_c_mean, 21.5);
        assert.equal(g.temperature_c_sum, 6 * 21.5);
      }
      const audit = await sql.query<{ action: string; detail: string }>(
        `SELECT action, detail FROM audit_log WHERE action = 'retention.anonymise' AND target = 'sensors'`,
      );
      assert.equal(audit.length, 1);
      const detail = JSON.parse(audit[0]?.detail ?? '{}');
      assert.equal(detail.suppressed, 3);
      assert.equal(detail.devicesWithoutArea, 1);
      assert.equal(detail.k, 5);
      assert.equal(detail.noise, null);
      assert.match(detail.published, /no minimum, maximum/);
    });

    test('a contract anonymised as one group: all its devices together, without areas', async () => {
      const tagKeys = await rows(store, TENANT, 'SHOW TAG KEYS FROM sim_unit_anonymised');
      assert.deepEqual(tagKeys.map((k) => k.tagKey).sort(), ['area', 'contract', 'kind']);
      const groups = await rows(store, TENANT, 'SELECT * FROM sim_unit_anonymised');
      // 2025-02-03 and -04 fall in one 7-day bucket (InfluxDB's buckets start on Thursdays).
      assert.deepEqual(
        groups.map((g) => [g.area, g.contract, g.devices, g.rssi_dbm_mean, g.rssi_dbm_sum]),
        [['*', 'fleet', 5, -70, -350]],
      );
      assert.equal(await countPoints('sim_unit', 'rssi_dbm', "contract = 'fleet'"), 0);
    });

    test('a second run finds nothing left to do', async () => {
      const again = instrumented(store);
      const { receipt, ms } = await runRetentionForTenant({ ...deps, store: again.store }, TENANT);
      assert.ok(ms >= 0);
      assert.equal(again.log.writes.length, 0);
      assert.deepEqual(
        receipt.legacyAggregates,
        { contracts: 0, rewritten: 0, removed: 0 },
        'current aggregates stay',
      );
      assert.equal(again.log.statements.filter((q) => q.includes('WHERE device')).length, 0);
      assert.deepEqual(contractOf(receipt, 'heat-dk').telemetry.affected.heat_meter, {
        devices: 2,
        series: 0,
        points: 0,
      });
    });

    test('every action is in the audit log, with pseudonyms and counts', async () => {
      const entries = await sql.query<{ action: string; target: string; detail: string }>(
        `SELECT action, target, detail FROM audit_log WHERE actor = 'retention' ORDER BY seq`,
      );
      const actions = new Set(entries.map((e) => e.action));
      for (const a of [
        'retention.run',
        'retention.billing_reduce',
        'retention.delete',
        'retention.anonymise',
        'retention.anonymise_drop',
      ]) {
        assert.ok(actions.has(a), `${a} recorded`);
      }
      const runs = entries.filter((e) => e.action === 'retention.run').map((e) => JSON.parse(e.detail));
      assert.ok(
        runs.some((d) => d.interrupted === true),
        'the killed run is recorded as interrupted',
      );
      assert.ok(runs.every((d) => d.trigger === 'operator'));
      const deletes = entries.filter((e) => e.action === 'retention.delete' && e.target === 'heat-dk');
      assert.deepEqual(
        deletes.flatMap((e) => JSON.parse(e.detail).devices).sort(),
        [...(devices.h1?.pseudonyms ?? []), ...(devices.h2?.pseudonyms ?? [])].sort(),
      );
    });

    test('billing readings past their keep-until go; a released hold lets the rest follow', async () => {
      clock.set('2031-01-01T02:00:00Z');
      const [receipt] = await createRetention(deps).run(TENANT);
      const dk = contractOf(receipt, 'heat-dk');
      assert.deepEqual(dk.billing.expired, { series: 4, points: 4, periods: ['2025-01', '2025-02'] });
      assert.equal(await countPoints('billing_reading', 'energy_kwh', "contract = 'heat-dk'"), 0);
      // SE keeps its readings two years longer; the late contract is due now.
      assert.equal(await countPoints('billing_reading', 'energy_kwh', "contract = 'heat-se'"), 1);
      assert.equal(await countPoints('sim_unit', 'rssi_dbm', "contract = 'late'"), 0);
      assert.equal(await countPoints('heat_meter', 'energy_kwh', "contract = 'heat-dk'"), 960, 'still held');

      await deps.holds.release(TENANT, hold.id, clock());
      const [last] = await createRetention(deps).run(TENANT);
      assert.deepEqual(await tagValues('heat_meter'), []);
      // hold released, billing readings expired: the DK meters' pseudonyms are gone from every listing.
      await createRetention(deps).run(TENANT);
      assert.ok(last?.index);
      const listed = await allTagValues();
      for (const name of ['h1', 'h2']) {
        for (const p of devices[name]?.pseudonyms ?? []) assert.ok(!listed.includes(p), `${p} is not listed`);
      }
    });
  });
});
