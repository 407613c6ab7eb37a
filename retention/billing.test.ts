import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Point } from '../lib/point.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import {
  BILLING_MEASUREMENT,
  billingKeepUntil,
  billingPeriods,
  deviceCondition,
  keepBillingReadings,
} from './billing.ts';

const iso = (d: Date) => d.toISOString();

describe('bookkeeping duty', () => {
  test('Denmark: five years from the end of the fiscal year', () => {
    assert.equal(iso(billingKeepUntil('DK', new Date('2026-03-01T00:00:00Z'))), '2032-01-01T00:00:00.000Z');
    // A period ending exactly at the year boundary belongs to the year before it.
    assert.equal(iso(billingKeepUntil('DK', new Date('2027-01-01T00:00:00Z'))), '2032-01-01T00:00:00.000Z');
    // Fiscal year July–June: a reading in August 2026 belongs to the year ending June 2027.
    assert.equal(
      iso(billingKeepUntil('DK', new Date('2026-08-01T00:00:00Z'), 6)),
      '2032-07-01T00:00:00.000Z',
    );
  });

  test('Sweden: to the end of the seventh year after the calendar year the fiscal year ended in', () => {
    assert.equal(iso(billingKeepUntil('SE', new Date('2026-03-01T00:00:00Z'))), '2034-01-01T00:00:00.000Z');
    // Fiscal year ends June 2027: calendar year 2027, + 7 → end of 2034.
    assert.equal(
      iso(billingKeepUntil('SE', new Date('2026-08-01T00:00:00Z'), 6)),
      '2035-01-01T00:00:00.000Z',
    );
  });

  test('billing periods are aligned to January and clipped to the range', () => {
    const periods = billingPeriods(
      { from: new Date('2026-02-10T00:00:00Z'), to: new Date('2026-07-15T00:00:00Z') },
      3,
    );
    assert.deepEqual(
      periods.map((p) => [p.label, iso(p.start), iso(p.end)]),
      [
        ['2026-01', '2026-02-10T00:00:00.000Z', '2026-04-01T00:00:00.000Z'],
        ['2026-04', '2026-04-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z'],
        ['2026-07', '2026-07-01T00:00:00.000Z', '2026-07-15T00:00:00.000Z'],
      ],
    );
    assert.throws(() => billingPeriods({ from: new Date(0), to: new Date(1) }, 5), RangeError);
  });
});

describe('keepBillingReadings against InfluxDB', () => {
  let server: InfluxdServer;
  let store: TelemetryStore;
  const T0 = Date.UTC(2026, 0, 1);
  const QUARTER_HOUR = 15 * 60_000;

  before(async () => {
    server = await startInfluxd();
    store = adminStore(server);
    await store.ensureTenant('acme');
    // Device A: 60 days of 15-minute readings, rekeyed on day 40 (pseudonym v1 → v2).
    // Device B: 20 days only. Registers grow by 1 kWh and 0.01 m³ per reading.
    const points: Point[] = [];
    for (let i = 0; i < 60 * 96; i++) {
      const device = i < 40 * 96 ? 'v1.aaaa' : 'v2.aaab';
      points.push({
        measurement: 'heat_meter',
        tags: { device, contract: 'c1' },
        fields: { energy_kwh: i, volume_m3: i / 100, flow_temp_c: 60 },
        timestampMs: T0 + i * QUARTER_HOUR,
      });
      if (i < 20 * 96) {
        points.push({
          measurement: 'heat_meter',
          tags: { device: 'v1.bbbb', contract: 'c2' },
          fields: { energy_kwh: 1000 + i, volume_m3: 10 + i / 100 },
          timestampMs: T0 + i * QUARTER_HOUR,
        });
      }
    }
    for (let i = 0; i < points.length; i += 5000) await store.write('acme', points.slice(i, i + 5000));
  });
  after(async () => {
    await store?.close();
    await server?.stop();
  });

  const billingRows = async () =>
    (await store.query('acme', `SELECT * FROM ${BILLING_MEASUREMENT} ORDER BY time`))[0]?.series?.[0]
      ?.values ?? [];

  test('the last energy and volume register of each month, per device across its key versions, and nothing else', async () => {
    const devices = [
      { devicePseudonyms: ['v1.aaaa', 'v2.aaab'], contractId: 'c1' },
      { devicePseudonyms: ['v1.bbbb'], contractId: 'c2' },
    ];
    const range = { from: new Date(T0), to: new Date(Date.UTC(2026, 2, 2)) };
    assert.deepEqual(await keepBillingReadings(store, 'acme', devices, range), { readings: 4 });
    const result = await store.query('acme', `SELECT * FROM ${BILLING_MEASUREMENT} ORDER BY time`);
    const series = result[0]?.series?.[0];
    assert.deepEqual(series?.columns, ['time', 'contract', 'device', 'energy_kwh', 'period', 'volume_m3']);
    const lastOfJanuary = 31 * 96 - 1;
    const lastOfFebruary = 59 * 96 - 1;
    assert.deepEqual(series?.values, [
      [
        T0 + (20 * 96 - 1) * QUARTER_HOUR,
        'c2',
        'v1.bbbb',
        1000 + 20 * 96 - 1,
        '2026-01',
        10 + (20 * 96 - 1) / 100,
      ],
      [T0 + lastOfJanuary * QUARTER_HOUR, 'c1', 'v1.aaaa', lastOfJanuary, '2026-01', lastOfJanuary / 100],
      [T0 + lastOfFebruary * QUARTER_HOUR, 'c1', 'v2.aaab', lastOfFebruary, '2026-02', lastOfFebruary / 100],
      // The contract ended on 2 March: the final reading is the last before the end.
      [T0 + (60 * 96 - 1) * QUARTER_HOUR, 'c1', 'v2.aaab', 60 * 96 - 1, '2026-03', (60 * 96 - 1) / 100],
    ]);
  });

  test('running it again changes nothing', async () => {
    const before = await billingRows();
    await keepBillingReadings(
      store,
      'acme',
      [
        { devicePseudonyms: ['v1.aaaa', 'v2.aaab'], contractId: 'c1' },
        { devicePseudonyms: ['v1.bbbb'], contractId: 'c2' },
      ],
      { from: new Date(T0), to: new Date(Date.UTC(2026, 2, 2)) },
    );
    assert.deepEqual(await billingRows(), before);
  });

  test('deviceCondition selects exactly the given pseudonyms for DROP SERIES', async () => {
    await store.execute(
      'acme',
      `DROP SERIES FROM heat_meter WHERE ${deviceCondition(['v1.aaaa', 'v2.aaab'])}`,
    );
    const series = await store.query('acme', 'SHOW SERIES FROM heat_meter');
    assert.deepEqual(
      series[0]?.series?.[0]?.values.map((r) => r[0]),
      ['heat_meter,contract=c2,device=v1.bbbb'],
    );
  });
});
