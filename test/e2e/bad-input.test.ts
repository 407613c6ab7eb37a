/**
 * Bad input against the running stack (SPEC: "Bad input gets a clear,
 * counted rejection and never crashes anything"). Authenticated devices of
 * every kind publish generated payloads at QoS 1; each is acknowledged, and
 * in the end every one is accounted for: stored, or rejected with a reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import { COMMON_STORED_FIELDS, SCHEMAS, STORED_FIELDS, TAGS } from '../../ingest/schemas.ts';
import { DEVICE_KINDS, type DeviceKind } from '../../lib/device-kinds.ts';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  endAll,
  eventually,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
  withDeadline,
} from './devices.ts';
import { metricValue, scrape } from './metrics.ts';

const TENANT = 'fuzz';
/** Payloads stay under the broker's packet limit (16 KiB by default) with room for the topic. */
const MAX_PAYLOAD_BYTES = 15_000;
/** Device times well inside the plausible window, one second apart: no two readings share a timestamp. */
const TIME_BASE = Date.now() - 3_600_000;

type Outcome = 'stored' | 'json' | 'not_object' | 'schema';

let stack: Stack;
const devices = new Map<DeviceKind, TestDevice>();
const clients = new Map<DeviceKind, MqttClient>();
let n = 0;
const published = {
  total: 0,
  byOutcome: { stored: 0, json: 0, not_object: 0, schema: 0 } as Record<Outcome, number>,
};

before(async () => {
  // Short batch wait: every publish waits for its PUBACK, so this is the test's pace.
  // Every rejection of a new device and reason in full: the log test below reads one while the
  // generated payloads' rejections are still within the minute.
  stack = await startStack({ SKJOLD_BATCH_MAX_WAIT_MS: 2, SKJOLD_LOG_REJECTIONS_PER_MINUTE: 1000 });
  await addTenant(stack.api, TENANT);
  const ids = identifierSource('bad-input');
  for (const kind of DEVICE_KINDS) devices.set(kind, await addDevice(stack.api, ids, TENANT, kind));
});
after(async () => {
  await endAll(clients.values());
  await stack.stop();
});

function device(kind: DeviceKind): TestDevice {
  const d = devices.get(kind);
  assert.ok(d);
  return d;
}

async function client(kind: DeviceKind): Promise<MqttClient> {
  const existing = clients.get(kind);
  if (existing?.connected) return existing;
  const c = await connectDevice(stack.mqttUrl, device(kind));
  clients.set(kind, c);
  return c;
}

/** What ingest must do with a payload, by the schema of the device's kind (ingest/schemas.ts). */
function expectedOutcome(kind: DeviceKind, payload: Buffer): Outcome {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'json';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not_object';
  return SCHEMAS[kind].safeParse(raw).success ? 'stored' : 'schema';
}

/**
 * Publishes at QoS 1 and waits for the PUBACK — the sign it was handled. Fails
 * at once if the broker closes the connection instead.
 */
async function publish(kind: DeviceKind, payload: Buffer | string): Promise<void> {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  assert.ok(body.length <= MAX_PAYLOAD_BYTES, `payload of ${body.length} bytes`);
  const c = await client(kind);
  const outcome = expectedOutcome(kind, body);
  published.total++;
  published.byOutcome[outcome]++;
  let onClose = (): void => {};
  const gone = new Promise<never>((_, reject) => {
    onClose = () =>
      reject(new Error(`the broker closed the connection instead of acknowledging (${kind}, ${outcome})`));
    c.once('close', onClose);
  });
  try {
    await withDeadline(
      Promise.race([c.publishAsync(device(kind).telemetry, body, { qos: 1 }), gone]),
      10_000,
      'PUBACK',
    );
  } finally {
    c.off('close', onClose);
  }
}

/** A well-formed reading with a unique device time. */
function base(kind: DeviceKind): Record<string, unknown> {
  const i = n++;
  return { ...validReading(device(kind), i, TIME_BASE + i * 1000) };
}

const kindArb = fc.constantFrom(...DEVICE_KINDS);
const fits = (s: string) => Buffer.byteLength(s) <= MAX_PAYLOAD_BYTES;
const schemaKeys = (kind: DeviceKind) => Object.keys(SCHEMAS[kind].shape);
const numericKeys = (kind: DeviceKind) =>
  Object.entries(STORED_FIELDS[kind])
    .filter(([, type]) => type !== 'string')
    .map(([key]) => key);

/** Sets `key` to raw JSON text (numbers JSON.stringify cannot produce, or not JSON at all). */
function withRawValue(obj: Record<string, unknown>, key: string, raw: string): string {
  return JSON.stringify({ ...obj, [key]: '\u0000RAW\u0000' }).replace('"\\u0000RAW\\u0000"', raw);
}

async function runProperty<T>(arb: fc.Arbitrary<T>, numRuns: number, send: (v: T) => Promise<void>) {
  await fc.assert(
    fc.asyncProperty(arb, async (v) => {
      await send(v);
    }),
    { numRuns },
  );
}

describe('generated payloads are each acknowledged', () => {
  test('arbitrary JSON values', async () => {
    const arb = fc.tuple(
      kindArb,
      fc
        .jsonValue({ maxDepth: 4 })
        .map((v) => JSON.stringify(v) ?? 'null')
        .filter(fits),
    );
    await runProperty(arb, 50, ([kind, text]) => publish(kind, text));
  });

  test('arbitrary bytes', async () => {
    await runProperty(fc.tuple(kindArb, fc.uint8Array({ maxLength: 4000 })), 50, ([kind, bytes]) =>
      publish(kind, Buffer.from(bytes)),
    );
  });

  test('objects shaped like the kind’s schema with arbitrary values', async () => {
    const arb = kindArb.chain((kind) =>
      fc.record({
        kind: fc.constant(kind),
        overrides: fc.array(fc.tuple(fc.constantFrom(...schemaKeys(kind)), fc.anything({ maxDepth: 2 })), {
          minLength: 1,
          maxLength: 4,
        }),
        removed: fc.subarray(schemaKeys(kind), { maxLength: 2 }),
      }),
    );
    await runProperty(arb, 60, async ({ kind, overrides, removed }) => {
      const obj = base(kind);
      for (const [key, value] of overrides) obj[key] = value;
      for (const key of removed) delete obj[key];
      const text = JSON.stringify(obj);
      if (fits(text)) await publish(kind, text);
    });
  });

  test('huge, tiny and odd numbers in numeric fields', async () => {
    const odd = fc.oneof(
      fc.constantFrom(
        '1e308',
        '-1e308',
        '5e-324',
        '1e400',
        '-1e400',
        '1e-400',
        '-0',
        '0.0',
        '1E5',
        '9007199254740991',
        '9007199254740993',
        '9223372036854775808',
        '123456789012345678901234567890',
        '0.000000000000000000000000001',
        '-2147483649',
      ),
      fc.double().map((x) => JSON.stringify(x)),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map(String),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
    );
    const arb = kindArb.chain((kind) =>
      fc.tuple(fc.constant(kind), fc.constantFrom(...numericKeys(kind)), odd),
    );
    await runProperty(arb, 50, ([kind, key, raw]) => publish(kind, withRawValue(base(kind), key, raw)));
  });

  test('NaN-ish values in numeric fields', async () => {
    const nanish = fc.constantFrom(
      'NaN',
      '"NaN"',
      'Infinity',
      '"-Infinity"',
      '"1e999"',
      '""',
      '" "',
      '"0x10"',
      '"null"',
      '"undefined"',
      'null',
      'true',
      '[]',
      '{}',
      '"12"',
    );
    const arb = kindArb.chain((kind) =>
      fc.tuple(fc.constant(kind), fc.constantFrom(...numericKeys(kind)), nanish),
    );
    await runProperty(arb, 30, ([kind, key, raw]) => publish(kind, withRawValue(base(kind), key, raw)));
  });

  test('deeply nested objects and arrays', async () => {
    const arb = fc.record({
      kind: kindArb,
      depth: fc.integer({ min: 1, max: 2400 }),
      array: fc.boolean(),
      at: fc.constantFrom('top', 'note', 'gps', 'extra'),
    });
    await runProperty(arb, 20, async ({ kind, depth, array, at }) => {
      const nested = array
        ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
        : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      await publish(kind, at === 'top' ? nested : withRawValue(base(kind), at, nested));
    });
  });

  test('long strings, in the note and in unknown fields', async () => {
    const text = fc.oneof(fc.string({ maxLength: 700 }), fc.string({ unit: 'binary', maxLength: 700 }));
    const arb = fc.record({
      kind: kindArb,
      note: text,
      filler: fc.integer({ min: 0, max: 13_000 }),
      key: fc.string({ minLength: 1, maxLength: 200 }),
    });
    await runProperty(arb, 40, async ({ kind, note, filler, key }) => {
      const obj = { ...base(kind), note, [`x_${key}`]: 'x'.repeat(filler) };
      const body = JSON.stringify(obj);
      if (fits(body)) await publish(kind, body);
    });
  });
});

describe('after the generated payloads', () => {
  test('the process still serves: a valid reading published now is stored', async () => {
    const d = device('building_sensor');
    const obj = base('building_sensor');
    await publish('building_sensor', JSON.stringify(obj));
    await stack.settled();
    const stored = await rows(
      stack.skjold.store,
      TENANT,
      `SELECT * FROM building_sensor WHERE device = '${d.pseudonym}' AND time = ${Date.parse(String(obj.ts))}ms`,
    );
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.seq, obj.seq);
  });

  test('every published message was stored or rejected, each with the reason the schema gives', async () => {
    assert.ok(published.total >= 300, `published ${published.total}`);
    let storedRows = 0;
    for (const kind of DEVICE_KINDS) {
      const r = await rows(stack.skjold.store, TENANT, `SELECT * FROM ${kind}`);
      storedRows += r.length;
    }
    const text = await scrape(stack.apiUrl);
    const rejected = metricValue(text, 'skjold_ingest_rejected_total');
    assert.equal(storedRows + rejected, published.total, 'stored + rejected = published');
    assert.deepEqual(
      {
        stored: storedRows,
        json: metricValue(text, 'skjold_ingest_rejected_total', { reason: 'json' }),
        not_object: metricValue(text, 'skjold_ingest_rejected_total', { reason: 'not_object' }),
        schema: metricValue(text, 'skjold_ingest_rejected_total', { reason: 'schema' }),
      },
      published.byOutcome,
    );
  });

  test('stored rows hold only the fields and tags the schemas allow, with their types', async () => {
    const types = await stack.skjold.store.query(TENANT, 'SHOW FIELD KEYS');
    for (const series of types[0]?.series ?? []) {
      const kind = series.name as DeviceKind;
      assert.ok(DEVICE_KINDS.includes(kind), `measurement ${series.name}`);
      const allowed: Record<string, string> = { ...STORED_FIELDS[kind], ...COMMON_STORED_FIELDS };
      for (const [key, type] of series.values) {
        assert.ok(String(key) in allowed, `${kind}: field ${String(key)} is not in the schema`);
        assert.equal(type, allowed[String(key)], `${kind}.${String(key)} type`);
      }
    }
    const tagKeys = await stack.skjold.store.query(TENANT, 'SHOW TAG KEYS');
    for (const series of tagKeys[0]?.series ?? []) {
      for (const [key] of series.values) {
        assert.ok((TAGS as readonly string[]).includes(String(key)), `tag ${String(key)}`);
      }
    }
    for (const kind of DEVICE_KINDS) {
      const allowed = new Set([
        'time',
        ...TAGS,
        ...Object.keys(STORED_FIELDS[kind]),
        ...Object.keys(COMMON_STORED_FIELDS),
      ]);
      for (const row of await rows(stack.skjold.store, TENANT, `SELECT * FROM ${kind}`)) {
        for (const [column, value] of Object.entries(row)) {
          if (value !== null) assert.ok(allowed.has(column), `${kind}: column ${column}`);
        }
      }
    }
  });
});

describe('explicit rejections', () => {
  const kind = 'building_sensor' as const;

  async function rejectedAs(payload: string, reason: Outcome): Promise<void> {
    const count = async () =>
      metricValue(await scrape(stack.apiUrl), 'skjold_ingest_rejected_total', { kind, reason });
    const before = await count();
    await publish(kind, payload);
    assert.equal(await count(), before + 1, `${JSON.stringify(payload).slice(0, 80)} → ${reason}`);
  }

  test('malformed JSON is rejected as "json"', async () => {
    for (const p of ['{"ts":', "{'a':1}", '{"temperature_c": NaN}', '', 'undefined', '{"a":1,}']) {
      await rejectedAs(p, 'json');
    }
  });

  test('a JSON array, number, string, boolean or null is rejected as "not_object"', async () => {
    for (const p of ['[]', `[${JSON.stringify(base(kind))}]`, '42', '"text"', 'true', 'null']) {
      await rejectedAs(p, 'not_object');
    }
  });

  test('wrong types, out-of-range values and missing required fields are rejected as "schema"', async () => {
    const { temperature_c: _dropped, ...missing } = base(kind);
    for (const obj of [
      { ...base(kind), co2_ppm: 'high' },
      { ...base(kind), humidity_pct: 140 },
      { ...base(kind), temperature_c: -273 },
      { ...base(kind), co2_ppm: 400.5 },
      { ...base(kind), seq: -1 },
      { ...base(kind), note: 'x'.repeat(501) },
      { ...base(kind), ts: 'yesterday' },
      missing,
      {},
    ]) {
      await rejectedAs(JSON.stringify(obj), 'schema');
    }
  });

  test('the log line for a rejection names the device pseudonym and the reason, not the payload', async (t) => {
    // A device of its own: the first rejection per device and reason is the
    // one logged in full (later ones are summarised, docs/errors.md), and the
    // shared device has had every reason already.
    const ids = identifierSource('bad-input-log');
    const d = await addDevice(stack.api, ids, TENANT, kind);
    const c = await connectDevice(stack.mqttUrl, d);
    t.after(() => endAll([c]));
    const iccid = ids.iccid('DK');
    const cases: Array<[string, Outcome]> = [
      [`{"note":"MARKER-json ${iccid}",`, 'json'],
      [JSON.stringify({ ...base(kind), co2_ppm: 'MARKER-schema', note: `call ${iccid}` }), 'schema'],
      [JSON.stringify(['MARKER-array', iccid]), 'not_object'],
    ];
    for (const [payload, reason] of cases) {
      const from = stack.logs.length;
      await publishAcked(c, d.telemetry, payload);
      await eventually(`a rejection logged for ${reason}`, () =>
        stack.logs.slice(from).some((l) => l.includes('message rejected')),
      );
      const lines = stack.logs.slice(from).filter((l) => l.includes('message rejected'));
      assert.equal(lines.length, 1, lines.join('\n'));
      const line = lines[0] ?? '';
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.equal(entry.device, d.pseudonym);
      assert.equal(entry.reason, reason);
      assert.doesNotMatch(line, /MARKER/, 'no payload text in the log');
      assert.ok(!line.includes(iccid), 'no identifier from the payload in the log');
    }
  });
});
