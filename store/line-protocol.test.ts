import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { FieldValue, Point } from '../lib/point.ts';
import { encodePoint, encodePoints, writePoint } from './line-protocol.ts';
import { isRetryable, StoreError } from './store-error.ts';

interface Parsed {
  measurement: string;
  tags: Record<string, string>;
  /** Tag keys in line order (an object would put integer-like keys first). */
  tagKeys: string[];
  fields: Record<string, FieldValue>;
  timestamp: number;
}

/**
 * A reader with influxdb 1.6's rules (models/points.go): a separator counts
 * unless the character before it is a backslash; the measurement unescapes
 * `\,` `\ `, other names also `\=`;
 * string values unescape `\"` and `\\`; `i` marks an integer.
 */
function parseLine(line: string): Parsed {
  let i = 0;
  const scan = (stops: string): string => {
    const start = i;
    while (i < line.length && !(stops.includes(line[i]!) && line[i - 1] !== '\\')) i++;
    return line.slice(start, i);
  };
  const until = (stops: string): string => scan(stops).replace(/\\([,= ])/g, '$1');
  // The measurement unescapes only comma and space.
  const measurement = scan(', ').replace(/\\([, ])/g, '$1');
  // Entries, then Object.fromEntries: assigning a key such as '__proto__' would not make a property.
  const tagEntries: Array<[string, string]> = [];
  while (line[i] === ',') {
    i++;
    const key = until('=');
    i++;
    tagEntries.push([key, until(', ')]);
  }
  assert.equal(line[i], ' ', 'space after tags');
  i++;
  const fieldEntries: Array<[string, FieldValue]> = [];
  for (;;) {
    const key = until('=');
    i++;
    if (line[i] === '"') {
      let value = '';
      for (i++; line[i] !== '"'; i++) {
        assert.ok(i < line.length, 'unterminated string');
        if (line[i] === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) i++;
        value += line[i];
      }
      i++;
      fieldEntries.push([key, value]);
    } else {
      const raw = until(', ');
      const parsed = raw === 'true' || raw === 'false' ? raw === 'true' : Number(raw.replace(/i$/, ''));
      fieldEntries.push([key, parsed]);
    }
    if (line[i] !== ',') break;
    i++;
  }
  assert.equal(line[i], ' ', 'space after fields');
  return {
    measurement,
    tags: Object.fromEntries(tagEntries),
    tagKeys: tagEntries.map(([k]) => k),
    fields: Object.fromEntries(fieldEntries),
    timestamp: Number(line.slice(i + 1)),
  };
}

function point(overrides: Partial<Point> = {}): Point {
  return {
    measurement: 'heat_meter',
    tags: { device: 'p1' },
    fields: { energy: 1.5 },
    timestampMs: 1000,
    ...overrides,
  };
}

/** Both encoders refuse the point, with the same message. */
function rejects(p: Point): void {
  let message = '';
  assert.throws(
    () => encodePoint(p),
    (err) => {
      message = err instanceof Error ? err.message : '';
      return err instanceof StoreError && err.code === 'SKJOLD_ERR_STORE_WRITE' && !isRetryable(err);
    },
  );
  assert.throws(
    () => writePoint(p, Buffer.alloc(4096), 0),
    (err) => err instanceof StoreError && err.message === message,
  );
}

describe('line protocol', () => {
  test('encodes a plain point, tags sorted by key, integers with i', () => {
    const line = encodePoint({
      measurement: 'sim_unit',
      tags: { tenant: 't1', device: 'p9', role: 'processor' },
      fields: { rssi: -71, bytes: 1024, roaming: false, country: 'DK' },
      integerFields: ['bytes'],
      timestampMs: 1_700_000_000_123,
    });
    assert.equal(
      line,
      'sim_unit,device=p9,role=processor,tenant=t1 rssi=-71,bytes=1024i,roaming=false,country="DK" 1700000000123',
    );
  });

  test('escapes each part by its own rules', () => {
    const line = encodePoint({
      measurement: 'heat meter,x=1',
      tags: { 'k,e y=': 'v a,l=ue' },
      fields: { 'f ie=ld,': 'say "hi" \\ bye', n: 2 },
      timestampMs: 5,
    });
    assert.equal(
      line,
      'heat\\ meter\\,x=1,k\\,e\\ y\\==v\\ a\\,l\\=ue f\\ ie\\=ld\\,="say \\"hi\\" \\\\ bye",n=2 5',
    );
  });

  test('drops NaN, Infinity and non-int64 integers; a point left with no fields is rejected', () => {
    const line = encodePoint(
      point({
        fields: { a: Number.NaN, b: Number.POSITIVE_INFINITY, c: 1.5, d: 2 ** 63, e: 7 },
        integerFields: ['c', 'd'],
      }),
    );
    assert.equal(line, 'heat_meter,device=p1 e=7 1000');
    rejects(point({ fields: { a: Number.NaN, b: Number.NEGATIVE_INFINITY } }));
    rejects(point({ fields: {} }));
  });

  test('omits empty tag values; truncates fractional timestamps', () => {
    assert.equal(
      encodePoint(point({ tags: { a: '', b: 'x' }, timestampMs: 12.9 })),
      'heat_meter,b=x energy=1.5 12',
    );
  });

  test('rejects what line protocol cannot express', () => {
    rejects(point({ measurement: '' }));
    rejects(point({ measurement: '#comment' }));
    rejects(point({ measurement: 'm\\"' }));
    rejects(point({ tags: { device: 'ends with \\' } }));
    rejects(point({ tags: { 'line\nbreak': 'x' } }));
    rejects(point({ fields: { 'k\\': 1 } }));
    rejects(point({ fields: { 'f\\,g': 1 } }));
    rejects(point({ tags: { '': 'x' } }));
    rejects(point({ timestampMs: Number.NaN }));
  });

  test('a batch is one line per point; string values may hold line breaks', () => {
    const body = encodePoints([point(), point({ fields: { note: 'a\nb' }, timestampMs: 2 })]);
    assert.equal(body, 'heat_meter,device=p1 energy=1.5 1000\nheat_meter,device=p1 note="a\nb" 2');
    assert.equal(encodePoints([]), '');
  });

  test('property: what encodes parses back to the same tags and fields', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', 'Z', '0', ',', '=', ' ', '\\', '"', "'", 'æ', '🙂', '\n', '#'),
    });
    const name = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' });
    const value = fc.oneof(
      fc.double(),
      fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
      fc.boolean(),
      text,
      fc.string({ unit: 'grapheme' }),
    );
    const arbitraryPoint = fc.record({
      measurement: fc.oneof(name, text),
      tags: fc.dictionary(fc.oneof(name, text), fc.oneof(name, text), { maxKeys: 5 }),
      fields: fc.dictionary(fc.oneof(name, text), value, { minKeys: 1, maxKeys: 5 }),
      integerFields: fc.array(fc.oneof(name, text), { maxLength: 3 }),
      timestampMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    });
    const unwritable = (s: string): boolean => s === '' || /[\n\r]|\\$/.test(s);

    fc.assert(
      fc.property(arbitraryPoint, (p: Point) => {
        const ints = new Set(p.integerFields);
        const storable = (k: string, v: FieldValue): boolean => {
          if (typeof v !== 'number') return true;
          if (!ints.has(k)) return Number.isFinite(v);
          return Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63; // int64
        };
        const tags = Object.fromEntries(Object.entries(p.tags).filter(([, v]) => v !== ''));
        const fields = Object.fromEntries(Object.entries(p.fields).filter(([k, v]) => storable(k, v)));
        const expectError =
          p.measurement === '' ||
          /[\n\r\\]/.test(p.measurement) ||
          p.measurement.startsWith('#') ||
          Object.entries(tags).some(([k, v]) => unwritable(k) || unwritable(v)) ||
          Object.keys(fields).some((k) => k === '' || /[\n\r\\]/.test(k)) ||
          Object.keys(fields).length === 0;
        if (expectError) {
          rejects(p);
          return;
        }
        const line = encodePoint(p);
        const bytes = Buffer.from(line);
        const buf = Buffer.alloc(bytes.length + 8);
        assert.equal(writePoint(p, buf, 3), 3 + bytes.length, 'writePoint ends where the line does');
        assert.deepEqual(buf.subarray(3, 3 + bytes.length), bytes, 'writePoint writes the same bytes');
        const parsed = parseLine(line);
        assert.equal(parsed.measurement, p.measurement);
        assert.deepEqual(parsed.tags, tags);
        assert.deepEqual(parsed.tagKeys, Object.keys(tags).sort());
        const normalised = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v === 0 ? 0 : v]));
        assert.deepEqual(parsed.fields, normalised);
        assert.equal(parsed.timestamp, p.timestampMs);
      }),
      { numRuns: 2000 },
    );
  });
});

test('writePoint returns -1 when the buffer cannot hold the line, at any point of it', () => {
  const p: Point = {
    measurement: 'heat_meter',
    tags: Object.freeze({ device: 'pæ', tenant: 'acme' }),
    fields: { energy: 1.5, note: 'grøn', seq: 7 },
    integerFields: ['seq'],
    timestampMs: 1_700_000_000_123,
  };
  const line = Buffer.from(encodePoint(p));
  for (let size = 0; size < line.length; size++) {
    assert.equal(writePoint(p, Buffer.alloc(size), 0), -1, `${size} bytes`);
  }
  const buf = Buffer.alloc(line.length);
  assert.equal(writePoint(p, buf, 0), line.length);
  assert.deepEqual(buf, line);
});

test('a frozen tags object is encoded once and reused; an unfrozen one is encoded every time', () => {
  const point = (tags: Record<string, string>, measurement = 'heat_meter') => ({
    measurement,
    tags,
    fields: { v: 1 },
    timestampMs: 1_000,
  });
  const frozen = Object.freeze({ tenant: 'acme', device: 'a b' });
  assert.equal(encodePoint(point(frozen)), 'heat_meter,device=a\\ b,tenant=acme v=1 1000');
  assert.equal(encodePoint(point(frozen)), 'heat_meter,device=a\\ b,tenant=acme v=1 1000');
  // The same tags under another measurement are not mistaken for the cached series.
  assert.equal(encodePoint(point(frozen, 'sim_unit')), 'sim_unit,device=a\\ b,tenant=acme v=1 1000');
  const open: Record<string, string> = { tenant: 'acme' };
  assert.equal(encodePoint(point(open)), 'heat_meter,tenant=acme v=1 1000');
  open.tenant = 'other';
  assert.equal(encodePoint(point(open)), 'heat_meter,tenant=other v=1 1000');
});
