/**
 * The telemetry query against a real InfluxDB and PGlite registry: windows
 * and aggregations computed by InfluxDB over known readings, a device's key
 * versions charted as one series, restricted subjects' devices (art. 18)
 * left out, another tenant's devices not found, malformed parameters
 * refused before any query, and CSV output that a spreadsheet cannot run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { STORED_FIELDS } from '../ingest/schemas.ts';
import { manualClock } from '../lib/clock.ts';
import { DEVICE_KINDS, type DeviceKind } from '../lib/device-kinds.ts';
import { isSkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { LOGIN_TYPE } from '../registry/enrolment.ts';
import { createRegistry, type Registry } from '../registry/registry.ts';
import type { SqlClient } from '../registry/sql.ts';
import { TELEMETRY_FIELDS } from '../store/telemetry-fields.ts';
import { seriesStatement } from '../store/telemetry-influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { csvTextCell, telemetryCsv } from './telemetry-csv.ts';
import { telemetryQueryParams } from './telemetry-params.ts';
import { createTelemetryQuery, type TelemetryQuery } from './telemetry-query.ts';

const A = 'nordvarme';
const B = 'sydvarme';
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const MIN = 60_000;
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

let server: InfluxdServer;
let store: TelemetryStore;
let sql: SqlClient;
let registry: Registry;
let telemetry: TelemetryQuery;
const clock = manualClock(new Date(T0 + 2 * HOUR));

interface Dev {
  id: string;
  tenant: string;
  kind: DeviceKind;
  pseudonyms: string[];
}
const dev: Record<string, Dev> = {};
const current = (d: Dev) => d.pseudonyms.at(-1) ?? '';

async function addDevice(name: string, tenant: string, kind: DeviceKind, area: string | null, versions = 1) {
  const id = randomUUID();
  const pseudonyms = Array.from(
    { length: versions },
    (_, v) => `v${v + 1}.${randomUUID().replaceAll('-', '').slice(0, 26).toUpperCase()}`,
  );
  await registry.createDevice({
    id,
    tenantId: tenant,
    contractId: `${tenant}-${kind}`,
    kind,
    loginHash: randomUUID(),
    loginType: LOGIN_TYPE[kind],
    credentialHash: 'x',
    pseudonyms: pseudonyms.map((pseudonym, v) => ({
      keyVersion: v + 1,
      idType: LOGIN_TYPE[kind],
      pseudonym,
    })),
    area,
  });
  dev[name] = { id, tenant, kind, pseudonyms };
}

/** One reading a minute for two hours from T0: `value(i)` at minute i; a second key version takes over at T0 + 1h. */
async function write(d: Dev, field: string, value: (i: number) => number) {
  const points: Point[] = [];
  for (let i = 0; i < 120; i++) {
    const pseudonym = d.pseudonyms[Math.min(d.pseudonyms.length - 1, Math.floor(i / 60))] ?? '';
    points.push({
      measurement: d.kind,
      tags: { tenant: d.tenant, device: pseudonym, contract: `${d.tenant}-${d.kind}`, role: 'processor' },
      fields: { [field]: value(i) },
      timestampMs: T0 + i * MIN,
    });
  }
  await store.write(d.tenant, points);
}

const parse = (q: Record<string, string>) => telemetryQueryParams.parse(q);
const query = (tenant: string, q: Record<string, string>) => telemetry.query(tenant, parse(q));
const TWO_HOURS = { from: iso(T0), to: iso(T0 + 2 * HOUR) };

before(async () => {
  server = await startInfluxd();
  store = adminStore(server);
  sql = await freshPglite();
  registry = createRegistry(sql);
  for (const tenant of [A, B]) {
    await registry.createTenant({ id: tenant, name: tenant });
    await store.ensureTenant(tenant);
    for (const kind of DEVICE_KINDS)
      await registry.createContract({
        tenantId: tenant,
        id: `${tenant}-${kind}`,
        role: 'processor',
        purpose: `${kind} telemetry`,
        legalBasis: 'contract',
        startsOn: '2025-01-01',
        endsOn: null,
        jurisdiction: 'DK',
        gpsGridMeters: null,
      });
  }
  await addDevice('rotated', A, 'heat_meter', 'north', 2);
  await addDevice('north2', A, 'heat_meter', 'north');
  await addDevice('south', A, 'heat_meter', 'south');
  await addDevice('restricted', A, 'heat_meter', 'north', 2);
  await addDevice('sim', A, 'sim_unit', null);
  await addDevice('other', B, 'heat_meter', 'north');
  await write(dev.rotated as Dev, 'power_kw', (i) => i);
  await write(dev.north2 as Dev, 'power_kw', () => 10);
  await write(dev.south as Dev, 'power_kw', () => 20);
  await write(dev.restricted as Dev, 'power_kw', () => 99);
  await write(dev.sim as Dev, 'rssi_dbm', (i) => -70 - (i % 3));
  await write(dev.other as Dev, 'power_kw', () => 30);
  // Art. 18: the subject of `restricted` asked for restriction (the rows subjects.restrict() writes).
  await registry.createSubject(A, 'kunde-7');
  await registry.linkSubjectDevice(A, 'kunde-7', (dev.restricted as Dev).id);
  await sql.query('INSERT INTO subject_restrictions (tenant_id, subject_ref, since) VALUES ($1, $2, $3)', [
    A,
    'kunde-7',
    iso(T0),
  ]);
  telemetry = createTelemetryQuery({ registry, store, clock });
});

after(async () => {
  await store?.close();
  await sql?.close();
  await server?.stop();
});

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err) => isSkjoldError(err) && err.code === code);
}

describe('fields and devices', () => {
  test('the fields per kind are exactly the numeric fields ingest stores, each with a unit', () => {
    for (const kind of DEVICE_KINDS) {
      const numeric = Object.entries(STORED_FIELDS[kind])
        .filter(([, type]) => type !== 'string')
        .map(([name]) => name);
      assert.deepEqual(
        TELEMETRY_FIELDS[kind].map((f) => f.name),
        numeric,
      );
      for (const f of TELEMETRY_FIELDS[kind]) assert.ok(f.unit.length > 0, `${f.name} has a unit`);
    }
    assert.deepEqual(telemetry.fields(), TELEMETRY_FIELDS);
  });

  test('the device list shows the tenant’s devices by their newest pseudonym, without restricted ones', async () => {
    const list = await telemetry.devices(A, {});
    const expected = ['rotated', 'north2', 'south', 'sim'].map((n) => current(dev[n] as Dev)).sort();
    assert.deepEqual(list.map((d) => d.device).sort(), expected);
    const rotated = list.find((d) => d.device === current(dev.rotated as Dev));
    assert.deepEqual(rotated, {
      device: current(dev.rotated as Dev),
      kind: 'heat_meter',
      contract: `${A}-heat_meter`,
      group: 'north',
      fields: TELEMETRY_FIELDS.heat_meter.map((f) => f.name),
    });
    assert.equal(list.find((d) => d.device === current(dev.sim as Dev))?.group, null);
    const all = JSON.stringify(list);
    for (const p of [...(dev.restricted as Dev).pseudonyms, ...(dev.other as Dev).pseudonyms])
      assert.ok(!all.includes(p), 'restricted and other tenant’s pseudonyms are absent');
  });

  test('the device list filters by kind', async () => {
    const sims = await telemetry.devices(A, { kind: 'sim_unit' });
    assert.deepEqual(
      sims.map((d) => d.device),
      [current(dev.sim as Dev)],
    );
    const b = await telemetry.devices(B, { kind: 'heat_meter' });
    assert.deepEqual(
      b.map((d) => d.device),
      [current(dev.other as Dev)],
    );
  });
});

describe('windows and aggregations', () => {
  const rotated = () => dev.rotated as Dev;

  test('mean per hour spans a key rotation as one series keyed by the newest pseudonym', async () => {
    const r = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      devices: current(rotated()),
      window: '1h',
      ...TWO_HOURS,
    });
    assert.equal(r.tenant, A);
    assert.equal(r.window, '1h');
    assert.equal(r.agg, 'mean');
    assert.equal(r.from, iso(T0));
    assert.equal(r.to, iso(T0 + 2 * HOUR));
    assert.deepEqual(r.series, [
      {
        device: current(rotated()),
        points: [
          [T0, 29.5],
          [T0 + HOUR, 89.5],
        ],
      },
    ]);
  });

  test('a window across the rotation aggregates both key versions’ points', async () => {
    const r = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      devices: current(rotated()),
      window: '1d',
      agg: 'sum',
      ...TWO_HOURS,
    });
    assert.deepEqual(r.series[0]?.points, [[T0, (119 * 120) / 2]]);
  });

  for (const [agg, expected] of [
    ['sum', [435, 1335, 2235, 3135]],
    ['min', [0, 30, 60, 90]],
    ['max', [29, 59, 89, 119]],
    ['last', [29, 59, 89, 119]],
    ['mean', [14.5, 44.5, 74.5, 104.5]],
  ] as const) {
    test(`${agg} over 30-minute windows is InfluxDB's ${agg} of each window`, async () => {
      const r = await query(A, {
        kind: 'heat_meter',
        field: 'power_kw',
        devices: current(rotated()),
        window: '30m',
        agg,
        ...TWO_HOURS,
      });
      assert.deepEqual(
        r.series[0]?.points,
        expected.map((v, i) => [T0 + i * 30 * MIN, v]),
      );
    });
  }

  test('an old key version’s pseudonym names the same device', async () => {
    const r = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      devices: rotated().pseudonyms[0] ?? '',
      window: '1h',
      ...TWO_HOURS,
    });
    assert.deepEqual(
      r.series.map((s) => s.device),
      [current(rotated())],
    );
    assert.equal(r.series[0]?.points.length, 2);
  });

  test('windows without readings are null, and the range bounds the points', async () => {
    const r = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      devices: current(dev.north2 as Dev),
      window: '1h',
      from: iso(T0 + HOUR),
      to: iso(T0 + 4 * HOUR),
    });
    assert.deepEqual(r.series[0]?.points, [
      [T0 + HOUR, 10],
      [T0 + 2 * HOUR, null],
      [T0 + 3 * HOUR, null],
    ]);
  });

  test('without from, to and window: the last hour by the clock, in 10-second windows (360 points)', async () => {
    const r = await query(A, { kind: 'heat_meter', field: 'power_kw', devices: current(rotated()) });
    assert.equal(r.from, iso(T0 + HOUR));
    assert.equal(r.to, iso(T0 + 2 * HOUR));
    assert.equal(r.window, '10s');
    assert.equal(r.series[0]?.points.length, 360);
    assert.deepEqual(r.series[0]?.points[6], [T0 + HOUR + MIN, 61]);
  });

  test('the default window grows with the range: a week in hours, a year in days', async () => {
    const week = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      group: 'south',
      from: iso(T0 - 6 * 24 * HOUR),
      to: iso(T0 + 24 * HOUR),
    });
    assert.equal(week.window, '1h');
    assert.equal(week.series[0]?.points.filter(([, v]) => v !== null).length, 2);
    const year = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      group: 'south',
      from: iso(T0 - 364 * 24 * HOUR),
      to: iso(T0 + 24 * HOUR),
    });
    assert.equal(year.window, '1d');
    assert.ok((year.series[0]?.points.length ?? 0) <= 500);
  });

  test('a group is its devices of the kind; no devices and no group is every visible device of the kind', async () => {
    const north = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      group: 'north',
      window: '2h',
      ...TWO_HOURS,
    });
    assert.deepEqual(
      north.series.map((s) => s.device),
      [current(rotated()), current(dev.north2 as Dev)].sort(),
    );
    const all = await query(A, { kind: 'heat_meter', field: 'power_kw', window: '2h', ...TWO_HOURS });
    assert.deepEqual(
      all.series.map((s) => s.device),
      ['rotated', 'north2', 'south'].map((n) => current(dev[n] as Dev)).sort(),
    );
    const nobody = await query(A, { kind: 'heat_meter', field: 'power_kw', group: 'east', ...TWO_HOURS });
    assert.deepEqual(nobody.series, []);
  });
});

describe('restriction and isolation', () => {
  test('a restricted subject’s device is stored but in no result, under any key version', async () => {
    const restricted = dev.restricted as Dev;
    const raw = await rows(
      store,
      A,
      `SELECT count(power_kw) FROM heat_meter WHERE ${restricted.pseudonyms.map((p) => `device = '${p}'`).join(' OR ')}`,
    );
    assert.equal(raw[0]?.count, 120, 'the restricted device’s readings are kept (art. 18: stored, not used)');
    for (const p of restricted.pseudonyms)
      await rejects(
        query(A, { kind: 'heat_meter', field: 'power_kw', devices: p, ...TWO_HOURS }),
        'SKJOLD_ERR_NOT_FOUND',
      );
    const north = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      group: 'north',
      window: '2h',
      ...TWO_HOURS,
    });
    const values = north.series.flatMap((s) => s.points.map(([, v]) => v));
    assert.ok(!values.includes(99), 'the restricted device’s readings are not in the group');
  });

  test('lifting the restriction brings the device back', async () => {
    await sql.query('DELETE FROM subject_restrictions WHERE tenant_id = $1', [A]);
    try {
      const r = await query(A, {
        kind: 'heat_meter',
        field: 'power_kw',
        devices: (dev.restricted as Dev).pseudonyms[0] ?? '',
        window: '2h',
        ...TWO_HOURS,
      });
      assert.deepEqual(r.series[0]?.points, [[T0, 99]]);
    } finally {
      await sql.query(
        'INSERT INTO subject_restrictions (tenant_id, subject_ref, since) VALUES ($1, $2, $3)',
        [A, 'kunde-7', iso(T0)],
      );
    }
  });

  test('another tenant’s device is not found, exactly like an unknown pseudonym', async () => {
    const other = current(dev.other as Dev);
    const q = { kind: 'heat_meter', field: 'power_kw', ...TWO_HOURS };
    const errors = [];
    for (const devices of [other, 'v1.NOSUCHDEVICE', `${current(dev.north2 as Dev)},${other}`]) {
      const err = await query(A, { ...q, devices }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(isSkjoldError(err, 'SKJOLD_ERR_NOT_FOUND'), devices);
      errors.push(err.message.replace(/v1\.\S+/, 'P'));
    }
    assert.equal(new Set(errors).size, 1);
    // The device's own tenant sees it, and only it, in the same group name.
    const b = await query(B, { ...q, group: 'north', window: '2h' });
    assert.deepEqual(b.series, [{ device: other, points: [[T0, 30]] }]);
  });

  test('a device of another kind is not found under this kind', async () => {
    await rejects(
      query(A, { kind: 'heat_meter', field: 'power_kw', devices: current(dev.sim as Dev), ...TWO_HOURS }),
      'SKJOLD_ERR_NOT_FOUND',
    );
  });
});

describe('malformed parameters', () => {
  const base = { kind: 'heat_meter', field: 'power_kw' };
  const invalid: Array<[string, Record<string, string>]> = [
    ['an unknown kind', { ...base, kind: 'water_meter' }],
    ['a field of another kind', { ...base, field: 'co2_ppm' }],
    ['a text field', { ...base, field: 'status' }],
    ['a stored non-reading field', { ...base, field: 'seq' }],
    ['InfluxQL in the field', { ...base, field: 'power_kw") FROM "sim_unit' }],
    ['a window without unit', { ...base, window: '15' }],
    ['a zero window', { ...base, window: '0m' }],
    ['a window in weeks', { ...base, window: '1w' }],
    ['InfluxQL in the window', { ...base, window: '1m) fill(0' }],
    ['an unknown aggregation', { ...base, agg: 'median' }],
    ['a date without time zone', { ...base, from: '2026-01-05T00:00:00' }],
    ['a non-date', { ...base, to: 'yesterday' }],
    ['a quote in a pseudonym', { ...base, devices: "v1.A'OR'1'='1" }],
    ['a regex in a pseudonym', { ...base, devices: 'v1.A|.*' }],
    ['an empty device in the list', { ...base, devices: 'v1.A,,v1.B' }],
    ['devices and group together', { ...base, devices: 'v1.A', group: 'north' }],
    ['an unknown format', { ...base, format: 'xlsx' }],
  ];
  for (const [what, q] of invalid) {
    test(`${what} is refused as invalid`, () => {
      assert.equal(telemetryQueryParams.safeParse(q).success, false);
    });
  }

  test('from after to is invalid; a window too fine for the range is too large, never coarsened', async () => {
    await rejects(query(A, { ...base, from: iso(T0 + HOUR), to: iso(T0) }), 'SKJOLD_ERR_VALIDATION');
    await rejects(query(A, { ...base, from: iso(T0), to: iso(T0) }), 'SKJOLD_ERR_VALIDATION');
    // One day in 1-second windows is 86,400 points per series.
    await rejects(
      query(A, { ...base, window: '1s', from: iso(T0), to: iso(T0 + 24 * HOUR) }),
      'SKJOLD_ERR_QUERY_TOO_LARGE',
    );
    const edge = await query(A, {
      ...base,
      group: 'south',
      window: '1s',
      from: iso(T0),
      to: iso(T0 + 10_000_000),
    });
    assert.equal(edge.series[0]?.points.length, 10_000);
  });

  test('more than 200 devices is too large', async () => {
    const many = Array.from({ length: 201 }, (_, i) => `v1.D${i}`).join(',');
    await rejects(query(A, { ...base, devices: many }), 'SKJOLD_ERR_QUERY_TOO_LARGE');
  });

  test('the statement builder refuses what the parameters would have refused', () => {
    const ok = {
      kind: 'heat_meter' as const,
      field: 'power_kw',
      agg: 'mean' as const,
      pseudonyms: ['v1.A'],
      fromMs: T0,
      toMs: T0 + HOUR,
      window: '1m',
    };
    assert.match(
      seriesStatement(ok),
      /^SELECT mean\("power_kw"\) FROM "heat_meter" WHERE "device" = 'v1\.A'/,
    );
    assert.match(
      seriesStatement({ ...ok, pseudonyms: ['v1.A', 'v2.B'] }),
      /"device" =~ \/\^\(v1\\\.A\|v2\\\.B\)\$\//,
    );
    for (const bad of [
      { field: 'status' },
      { field: 'power_kw"' },
      { agg: 'count' },
      { window: '1m)' },
      { pseudonyms: ["v1.A'"] },
      { pseudonyms: ['v1.A\n'] },
      { pseudonyms: [] },
      { fromMs: T0 + HOUR },
    ])
      assert.throws(
        () => seriesStatement({ ...ok, ...bad } as typeof ok),
        (e) => isSkjoldError(e, 'SKJOLD_ERR_VALIDATION'),
        JSON.stringify(bad),
      );
  });
});

describe('CSV', () => {
  test('time,device,value rows, one per point; negative readings stay numbers', async () => {
    const sim = dev.sim as Dev;
    const r = await query(A, { kind: 'sim_unit', field: 'rssi_dbm', agg: 'min', window: '1h', ...TWO_HOURS });
    const csv = telemetryCsv(r);
    assert.equal(
      csv,
      `time,device,value\r\n${iso(T0)},${current(sim)},-72\r\n${iso(T0 + HOUR)},${current(sim)},-72\r\n`,
    );
  });

  test('empty windows are empty cells', async () => {
    const r = await query(A, {
      kind: 'heat_meter',
      field: 'power_kw',
      group: 'south',
      window: '2h',
      from: iso(T0),
      to: iso(T0 + 4 * HOUR),
    });
    assert.deepEqual(telemetryCsv(r).split('\r\n').slice(1, 3), [
      `${iso(T0)},${current(dev.south as Dev)},20`,
      `${iso(T0 + 2 * HOUR)},${current(dev.south as Dev)},`,
    ]);
  });

  test('a text cell a spreadsheet would run as a formula is defused', () => {
    assert.equal(csvTextCell('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
    assert.equal(csvTextCell('+1'), "'+1");
    assert.equal(csvTextCell('-2+3'), "'-2+3");
    assert.equal(csvTextCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvTextCell('\tx'), "'\tx");
    assert.equal(csvTextCell('a,b'), '"a,b"');
    assert.equal(csvTextCell('v2.ABC'), 'v2.ABC');
    const csv = telemetryCsv({
      tenant: A,
      kind: 'heat_meter',
      field: 'power_kw',
      window: '1m',
      agg: 'mean',
      from: iso(T0),
      to: iso(T0 + MIN),
      series: [{ device: '=1+1', points: [[T0, -5]] }],
    });
    assert.equal(csv.split('\r\n')[1], `${iso(T0)},'=1+1,-5`);
  });
});
