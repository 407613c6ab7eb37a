/**
 * The contract every TelemetryStore backend passes (aedes-persistence's
 * abstract.js pattern). A backend's test file calls runTelemetryStoreContract
 * with a factory for a fresh, running backend.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { isSkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { quoteIdentifier } from './influxql.ts';
import { encodePoint, joinLines } from './line-protocol.ts';
import { isRetryable } from './store-error.ts';
import type { QueryResult, QueryValue, TelemetryStore } from './telemetry-store.ts';

export interface StoreFixture {
  /** A store with administrative rights on a fresh, empty backend. */
  store: TelemetryStore;
  /** A store that connects with the given credential (made with grantReader). */
  connectAs(username: string, password: string): TelemetryStore;
  /** Crashes the backend (no clean shutdown). Data it acknowledged must survive `startBackend`. */
  crashBackend(): Promise<void>;
  /** Starts the backend again on the same address with the same data. */
  startBackend(): Promise<void>;
  /** Stops the backend and removes its data. */
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);

function rows(results: QueryResult[]): { columns: string[]; values: QueryValue[][] } {
  assert.equal(results.length, 1);
  const [result] = results;
  assert.equal(result?.error, undefined, result?.error);
  const series = result?.series?.[0];
  return { columns: series?.columns ?? [], values: series?.values ?? [] };
}

/** Rows as objects keyed by column. */
function records(results: QueryResult[]): Array<Record<string, QueryValue>> {
  const { columns, values } = rows(results);
  return values.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i] ?? null])));
}

async function rejectsWith(promise: Promise<unknown>, code: string, retryable: boolean): Promise<Error> {
  let caught: unknown;
  await assert.rejects(promise, (err) => {
    caught = err;
    return true;
  });
  assert.ok(isSkjoldError(caught), `expected a SkjoldError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(isRetryable(caught), retryable, `retryable for ${caught.message}`);
  return caught;
}

export function runTelemetryStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`TelemetryStore contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: TelemetryStore;
    const opened: TelemetryStore[] = [];
    const connectAs = (user: string, password: string): TelemetryStore => {
      const s = fx.connectAs(user, password);
      opened.push(s);
      return s;
    };

    before(async () => {
      fx = await makeStore();
      store = fx.store;
      await store.ensureTenant('acme');
      await store.ensureTenant('globex-heat');
    });
    after(async () => {
      await Promise.all(opened.map((s) => s.close()));
      await store?.close();
      await fx?.close();
    });

    test('ping answers and ensureTenant is idempotent', async () => {
      assert.equal(await store.ping(), true);
      await store.ensureTenant('acme');
    });

    test('databaseFor: one database per tenant, distinct for distinct ids, invalid ids refused', () => {
      const names = ['acme', 'a-b', 'a_b', 'globex-heat'].map((t) => store.databaseFor(t));
      assert.equal(new Set(names).size, names.length);
      for (const bad of ['', 'Acme', 'a b', 'a"b', 'ä', 'x'.repeat(65)]) {
        assert.throws(
          () => store.databaseFor(bad),
          (err) => isSkjoldError(err, 'SKJOLD_ERR_VALIDATION'),
        );
      }
    });

    test('round trip with escaping-heavy tags and string fields; integer, float and boolean types kept', async () => {
      const tags = { device: 'p, =\\x "q"', purpose: "billing's", role: 'processor' };
      const note = 'quote " backslash \\ comma, equals= space newline\nend\\';
      await store.write('acme', [
        {
          measurement: 'heat meter,v2',
          tags,
          fields: { energy: 1234, volume: 0.5, note, valid: true, pulses: 42 },
          integerFields: ['pulses'],
          timestampMs: T0,
        },
      ]);
      const got = await store.query('acme', `SELECT * FROM ${quoteIdentifier('heat meter,v2')} GROUP BY *`);
      const series = got[0]?.series?.[0];
      assert.deepEqual(series?.tags, tags);
      const rec = Object.fromEntries(series?.columns.map((c, i) => [c, series.values[0]?.[i]]) ?? []);
      assert.deepEqual(rec, { time: T0, energy: 1234, volume: 0.5, note, valid: true, pulses: 42 });
      const types = records(
        await store.query('acme', `SHOW FIELD KEYS FROM ${quoteIdentifier('heat meter,v2')}`),
      );
      assert.deepEqual(Object.fromEntries(types.map((r) => [r.fieldKey, r.fieldType])), {
        energy: 'float',
        volume: 'float',
        note: 'string',
        valid: 'boolean',
        pulses: 'integer',
      });
    });

    test('same measurement, tags and timestamp written twice is one point, last write wins', async () => {
      const p: Point = {
        measurement: 'sim_unit',
        tags: { device: 'dup' },
        fields: { rssi: -70 },
        timestampMs: T0,
      };
      await store.write('acme', [p]);
      await store.write('acme', [{ ...p, fields: { rssi: -71 } }]);
      const got = records(await store.query('acme', `SELECT rssi FROM sim_unit WHERE device = 'dup'`));
      assert.deepEqual(got, [{ time: T0, rssi: -71 }]);
    });

    test('writeLines stores line protocol as written: the same points as write would', async () => {
      const points: Point[] = [1, 2].map((i) => ({
        measurement: 'sim_unit',
        tags: { device: 'lines' },
        fields: { rssi: -60 - i },
        timestampMs: T0 + i,
      }));
      await store.writeLines('acme', joinLines(points.map((p) => Buffer.from(encodePoint(p)))));
      const got = records(await store.query('acme', `SELECT rssi FROM sim_unit WHERE device = 'lines'`));
      assert.deepEqual(got, [
        { time: T0 + 1, rssi: -61 },
        { time: T0 + 2, rssi: -62 },
      ]);
    });

    test('NaN fields are dropped; a point with nothing left is rejected before sending', async () => {
      await store.write('acme', [
        { measurement: 'nan_test', tags: {}, fields: { a: Number.NaN, b: 2 }, timestampMs: T0 },
      ]);
      assert.deepEqual(records(await store.query('acme', 'SELECT * FROM nan_test')), [{ time: T0, b: 2 }]);
      const only = { measurement: 'nan_test', tags: {}, fields: { a: Number.NaN }, timestampMs: T0 };
      await rejectsWith(store.write('acme', [only]), 'SKJOLD_ERR_STORE_WRITE', false);
    });

    test('a field type conflict is a non-retryable write error carrying the store’s reason', async () => {
      await store.write('acme', [{ measurement: 'typed', tags: {}, fields: { v: 1.5 }, timestampMs: T0 }]);
      const bad: Point = { measurement: 'typed', tags: {}, fields: { v: 'text' }, timestampMs: T0 + 1 };
      const err = await rejectsWith(store.write('acme', [bad]), 'SKJOLD_ERR_STORE_WRITE', false);
      assert.match(err.message, /conflict/);
    });

    test('execute: DROP SERIES removes a device from the data and the index; DELETE removes a time range', async () => {
      const at = (device: string, t: number): Point => ({
        measurement: 'erase_test',
        tags: { device },
        fields: { v: t },
        timestampMs: T0 + t,
      });
      await store.write('acme', [at('gone', 0), at('gone', 1), at('kept', 0), at('kept', 1), at('kept', 2)]);
      await store.execute('acme', `DROP SERIES FROM erase_test WHERE device = 'gone'`);
      await store.execute('acme', `DELETE FROM erase_test WHERE time < ${(T0 + 1) * 1_000_000}`);
      assert.deepEqual(records(await store.query('acme', 'SELECT device, v FROM erase_test')), [
        { time: T0 + 1, device: 'kept', v: 1 },
        { time: T0 + 2, device: 'kept', v: 2 },
      ]);
      const tagValues = records(
        await store.query('acme', `SHOW TAG VALUES FROM erase_test WITH KEY = "device"`),
      ).map((r) => r.value);
      assert.deepEqual(tagValues, ['kept']);
      await rejectsWith(store.execute('acme', 'DROP SERIES FROM'), 'SKJOLD_ERR_STORE_QUERY', false);
    });

    test('a query the store cannot parse is a non-retryable query error', async () => {
      await rejectsWith(store.query('acme', 'SELEKT nothing'), 'SKJOLD_ERR_STORE_QUERY', false);
    });

    test('tenant isolation: a reader credential reads its tenant only and cannot write', async () => {
      const p: Point = { measurement: 'room', tags: { device: 'r1' }, fields: { co2: 600 }, timestampMs: T0 };
      await store.write('acme', [p]);
      await store.write('globex-heat', [{ ...p, fields: { co2: 900 } }]);
      const password = randomBytes(9).toString('base64');
      await store.grantReader('acme', 'dash_acme', password);
      const reader = connectAs('dash_acme', password);

      assert.deepEqual(records(await reader.query('acme', 'SELECT co2 FROM room')), [{ time: T0, co2: 600 }]);
      await rejectsWith(reader.query('globex-heat', 'SELECT co2 FROM room'), 'SKJOLD_ERR_STORE_QUERY', false);
      const db = quoteIdentifier(store.databaseFor('globex-heat'));
      await rejectsWith(reader.query('acme', `SELECT co2 FROM ${db}..room`), 'SKJOLD_ERR_STORE_QUERY', false);
      await rejectsWith(reader.write('acme', [p]), 'SKJOLD_ERR_STORE_WRITE', false);
    });

    test('grantReader updates: new password replaces the old, and re-granting moves the credential', async () => {
      await store.grantReader('acme', 'dash_move', 'first \' " \\ pw');
      await store.grantReader('acme', 'dash_move', 'second');
      await rejectsWith(
        connectAs('dash_move', 'first \' " \\ pw').query('acme', 'SHOW MEASUREMENTS'),
        'SKJOLD_ERR_STORE_QUERY',
        false,
      );
      const reader = connectAs('dash_move', 'second');
      rows(await reader.query('acme', 'SHOW MEASUREMENTS'));
      await store.grantReader('globex-heat', 'dash_move', 'second');
      rows(await reader.query('globex-heat', 'SHOW MEASUREMENTS'));
      await rejectsWith(reader.query('acme', 'SHOW MEASUREMENTS'), 'SKJOLD_ERR_STORE_QUERY', false);
    });

    test('revokeReader removes a dashboard credential; an unknown name is no error', async () => {
      await store.grantReader('acme', 'dash_gone', 'revoked password');
      const reader = connectAs('dash_gone', 'revoked password');
      rows(await reader.query('acme', 'SHOW MEASUREMENTS'));
      await store.revokeReader('dash_gone');
      await store.revokeReader('dash_never_made');
      await rejectsWith(reader.query('acme', 'SHOW MEASUREMENTS'), 'SKJOLD_ERR_STORE_QUERY', false);
    });

    test('property: a point is stored exactly, or rejected as non-retryable — never mangled', async () => {
      // Mostly characters every store must keep; now and then ones line protocol cannot carry everywhere.
      const unit = fc.oneof(
        {
          weight: 30,
          arbitrary: fc.constantFrom('a', 'Z', '0', ',', '=', ' ', '"', "'", 'æ', '🙂', '\t', '#'),
        },
        { weight: 1, arbitrary: fc.constantFrom('\\', '\n') },
      );
      const text = fc.string({ unit, minLength: 1, maxLength: 10 });
      const value = fc.oneof(text, fc.string({ unit: 'grapheme', minLength: 1 }));
      const note = fc.oneof(text, fc.string({ unit: 'grapheme' }));
      let run = 0;
      let stored = 0;
      await fc.assert(
        fc.asyncProperty(
          text,
          fc.dictionary(text, value, { minKeys: 1, maxKeys: 4 }),
          text,
          note,
          async (name, rawTags, fieldKey, noteValue) => {
            // Prefixes keep measurements apart between runs and tag keys apart from the field key.
            const measurement = `m${run++} ${name}`;
            const tags = Object.fromEntries(Object.entries(rawTags).map(([k, v]) => [`t_${k}`, v]));
            const field = `f_${fieldKey}`;
            const point: Point = { measurement, tags, fields: { [field]: noteValue }, timestampMs: T0 };
            let rejected: unknown;
            await store.write('acme', [point]).catch((err: unknown) => {
              rejected = err;
            });
            if (rejected !== undefined) {
              assert.ok(isSkjoldError(rejected, 'SKJOLD_ERR_STORE_WRITE'), String(rejected));
              assert.equal(isRetryable(rejected), false);
              const left = await store.query('acme', `SHOW MEASUREMENTS WITH MEASUREMENT =~ /^m${run - 1} /`);
              assert.equal(left[0]?.series, undefined, 'a rejected point must not be stored in part');
              return;
            }
            const got = await store.query('acme', `SELECT * FROM ${quoteIdentifier(measurement)} GROUP BY *`);
            const series = got[0]?.series;
            stored++;
            assert.equal(series?.length, 1);
            assert.equal(series?.[0]?.name, measurement);
            assert.deepEqual(series?.[0]?.tags, tags);
            assert.deepEqual(series?.[0]?.columns, ['time', field]);
            assert.deepEqual(series?.[0]?.values, [[T0, noteValue]]);
          },
        ),
        { numRuns: 150 },
      );
      assert.ok(stored >= 50, `only ${stored} of 150 arbitrary points were storable`);
    });

    test('store down: writes reject as retryable UNAVAILABLE; after restart writes work and acked data survived', async () => {
      const before: Point = {
        measurement: 'outage',
        tags: { device: 'o1' },
        fields: { n: 1 },
        timestampMs: T0,
      };
      await store.write('acme', [before]);
      await fx.crashBackend();
      assert.equal(await store.ping(), false);
      const during = { ...before, timestampMs: T0 + 1 };
      await rejectsWith(store.write('acme', [during]), 'SKJOLD_ERR_STORE_UNAVAILABLE', true);
      await rejectsWith(store.query('acme', 'SELECT * FROM outage'), 'SKJOLD_ERR_STORE_UNAVAILABLE', true);
      await fx.startBackend();
      await store.write('acme', [during]);
      const got = records(await store.query('acme', 'SELECT n FROM outage'));
      assert.deepEqual(
        got.map((r) => r.time),
        [T0, T0 + 1],
      );
    });

    test('after close, calls reject', async () => {
      const s = fx.connectAs('nobody', 'x');
      await s.close();
      const p: Point = { measurement: 'closed', tags: {}, fields: { n: 1 }, timestampMs: T0 };
      await assert.rejects(s.write('acme', [p]), (err) => isSkjoldError(err, 'SKJOLD_ERR_STORE_UNAVAILABLE'));
    });
  });
}
