import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Point } from '../lib/point.ts';
import { encodePoint } from '../store/line-protocol.ts';
import { decodeRecord, encodeRecord } from './kafka-message.ts';

const point: Point = {
  measurement: 'sim_unit',
  tags: { tenant: 'acme', device: 'v1.abc', role: 'processor' },
  fields: { rssi_dbm: -71, seq: 4, country: 'DK', roaming: false, note: 'å "quoted", spaced' },
  integerFields: ['seq'],
  timestampMs: 1_796_000_000_123,
};

const decoded = (value: Buffer | null) => {
  const r = decodeRecord(value);
  return r && { tenantId: r.tenantId, line: r.line.toString('utf8') };
};

test("a record is keyed by the device pseudonym and holds the tenant and the point's line protocol", () => {
  const { key, value } = encodeRecord('acme', point);
  assert.equal(key, 'v1.abc');
  assert.deepEqual(decoded(value), { tenantId: 'acme', line: encodePoint(point) });
});

test('a point larger than the scratch buffer is encoded whole', () => {
  const big: Point = { ...point, fields: { ...point.fields, note: 'ø'.repeat(40_000) } };
  assert.deepEqual(decoded(encodeRecord('acme', big).value), { tenantId: 'acme', line: encodePoint(big) });
  assert.deepEqual(decoded(encodeRecord('acme', point).value), {
    tenantId: 'acme',
    line: encodePoint(point),
  });
});

test('a record of the earlier JSON format decodes to the same line', () => {
  const json = JSON.stringify({
    v: 1,
    tenant: 'acme',
    m: point.measurement,
    tags: point.tags,
    fields: point.fields,
    int: point.integerFields,
    ts: point.timestampMs,
  });
  assert.deepEqual(decoded(Buffer.from(json)), { tenantId: 'acme', line: encodePoint(point) });
});

test('bytes Skjold did not write decode to nothing', () => {
  const line = encodePoint(point);
  const record = (tenant: string, text: string) =>
    Buffer.concat([Buffer.from([0x01, tenant.length]), Buffer.from(tenant, 'latin1'), Buffer.from(text)]);
  for (const bad of [
    'not json',
    '[]',
    '{"v":2,"tenant":"a","m":"x","tags":{},"fields":{},"ts":1}',
    '{"v":1,"tenant":"a","m":"x","tags":{"t":1},"fields":{},"ts":1}',
    '{"v":1,"tenant":"a","m":"x","tags":{},"fields":{"f":{}},"ts":1}',
    '{"v":1,"tenant":"a","m":"x","tags":{},"fields":{},"ts":"1"}',
    '{"v":1,"tenant":"a","m":"x","tags":{},"fields":{},"ts":1}', // no field: InfluxDB would refuse it
  ]) {
    assert.equal(decodeRecord(Buffer.from(bad)), undefined, bad);
  }
  for (const [what, bad] of [
    ['another kind', Buffer.concat([Buffer.from([0x02]), record('acme', line).subarray(1)])],
    ['no tenant', record('', line)],
    ['a tenant the store does not take', record('Acme Corp', line)],
    ['two lines', record('acme', `${line}\n${line}`)],
    ['a carriage return', record('acme', `${line}\r`)],
    ['no timestamp at the end', record('acme', line.replace(/ \d+$/, ''))],
    ['nothing', Buffer.alloc(0)],
  ] as const) {
    assert.equal(decodeRecord(bad), undefined, what);
  }
  assert.deepEqual(decoded(record('acme', line)), { tenantId: 'acme', line }, 'the same bytes, well formed');
  assert.equal(decodeRecord(null), undefined);
});
