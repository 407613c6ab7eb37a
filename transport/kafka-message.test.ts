import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Point } from '../lib/point.ts';
import { decodeRecord, encodeRecord } from './kafka-message.ts';

const point: Point = {
  measurement: 'sim_unit',
  tags: { tenant: 'acme', device: 'v1.abc', role: 'processor' },
  fields: { rssi_dbm: -71, seq: 4, country: 'DK', roaming: false },
  integerFields: ['seq'],
  timestampMs: 1_796_000_000_123,
};

test('a record is keyed by the device pseudonym and decodes to the same tenant and point', () => {
  const { key, value } = encodeRecord('acme', point);
  assert.equal(key, 'v1.abc');
  assert.deepEqual(decodeRecord(Buffer.from(value)), { tenantId: 'acme', point });
});

test('bytes Skjold did not write decode to nothing', () => {
  for (const bad of [
    'not json',
    '[]',
    '{"v":2,"tenant":"a","m":"x","tags":{},"fields":{},"ts":1}',
    '{"v":1,"tenant":"a","m":"x","tags":{"t":1},"fields":{},"ts":1}',
    '{"v":1,"tenant":"a","m":"x","tags":{},"fields":{"f":{}},"ts":1}',
    '{"v":1,"tenant":"a","m":"x","tags":{},"fields":{},"ts":"1"}',
  ]) {
    assert.equal(decodeRecord(Buffer.from(bad)), undefined, bad);
  }
  assert.equal(decodeRecord(null), undefined);
});
