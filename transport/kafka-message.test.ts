import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Point } from '../lib/point.ts';
import { encodePoint } from '../store/line-protocol.ts';
import { decodeRecord, encodeRecord, packRecords, queuePoint } from './kafka-message.ts';
import { writeLineRecord } from './line-record.ts';

const point = (device = 'v1.abc', seq = 4): Point => ({
  measurement: 'sim_unit',
  tags: { tenant: 'acme', device, role: 'processor' },
  fields: { rssi_dbm: -71, seq, country: 'DK', roaming: false, note: 'å "quoted", spaced' },
  integerFields: ['seq'],
  timestampMs: 1_796_000_000_123 + seq,
});

const decoded = (value: Buffer | null) =>
  decodeRecord(value)?.map((r) => ({ tenantId: r.tenantId, line: r.line.toString('utf8') }));

test('a queued point is its line protocol, placed by its device pseudonym', () => {
  const q = queuePoint('acme', point());
  assert.equal(q.key, 'v1.abc');
  assert.equal(q.tenantId, 'acme');
  assert.equal(q.line.toString('utf8'), encodePoint(point()));
  assert.throws(() => queuePoint('Acme Corp', point()), /tenant id is not one the store takes/);
});

test("a request's points are packed into a record per partition and tenant, each in the order sent", () => {
  const sent = Array.from({ length: 60 }, (_, i) => ({
    tenantId: i % 3 === 0 ? 'beta' : 'acme',
    point: point(`v1.dev${i % 7}`, i),
  }));
  const partitionOf = (key: string) => Number(key.slice(-1)) % 4;
  const records = packRecords(
    sent.map((s, i) => ({ n: i, q: queuePoint(s.tenantId, s.point) })),
    (j) => j.q,
    partitionOf,
  );
  assert.equal(records.length, 8, 'four partitions, two tenants');
  const seen = new Set<number>();
  for (const r of records) {
    const lines = decoded(r.value) ?? [];
    assert.equal(lines.length, r.jobs.length);
    const tenants = new Set(lines.map((l) => l.tenantId));
    assert.equal(tenants.size, 1);
    const order = r.jobs.map((j) => j.n);
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      'in the order sent',
    );
    r.jobs.forEach((j, k) => {
      const s = sent[j.n];
      assert.ok(s);
      assert.equal(partitionOf(s.point.tags.device ?? ''), r.partition, 'on its device partition');
      assert.deepEqual(lines[k], { tenantId: s.tenantId, line: encodePoint(s.point) });
      seen.add(j.n);
    });
  }
  assert.equal(seen.size, sent.length, 'every point once');
});

test('a record that would pass the size limit is split, keeping the order', () => {
  const queued = Array.from({ length: 50 }, (_, i) => queuePoint('acme', point('v1.abc', i)));
  const limit = 5 * (queued[0]?.line.length ?? 0);
  const records = packRecords(
    queued,
    (q) => q,
    () => 0,
    limit,
  );
  assert.ok(records.length >= 10, `${records.length} records`);
  const lines = records.flatMap((r) => {
    assert.ok(r.value.length <= limit, `${r.value.length} bytes`);
    return (decoded(r.value) ?? []).map((l) => l.line);
  });
  assert.deepEqual(
    lines,
    queued.map((q) => q.line.toString('utf8')),
  );
});

test('a point larger than the scratch buffer is queued whole', () => {
  const big: Point = { ...point(), fields: { ...point().fields, note: 'ø'.repeat(40_000) } };
  assert.deepEqual(decoded(encodeRecord('acme', [big])), [{ tenantId: 'acme', line: encodePoint(big) }]);
  assert.deepEqual(decoded(encodeRecord('acme', [point()])), [
    { tenantId: 'acme', line: encodePoint(point()) },
  ]);
});

test('records of the earlier formats decode to the same line: a line record of one point, and JSON', () => {
  const p = point();
  const buf = Buffer.alloc(1024);
  const lineRecord = buf.subarray(0, writeLineRecord(buf, 0, 'acme', p));
  assert.deepEqual(decoded(lineRecord), [{ tenantId: 'acme', line: encodePoint(p) }]);
  const json = JSON.stringify({
    v: 1,
    tenant: 'acme',
    m: p.measurement,
    tags: p.tags,
    fields: p.fields,
    int: p.integerFields,
    ts: p.timestampMs,
  });
  assert.deepEqual(decoded(Buffer.from(json)), [{ tenantId: 'acme', line: encodePoint(p) }]);
});

test('bytes Skjold did not write decode to nothing', () => {
  const line = encodePoint(point());
  const record = (kind: number, tenant: string, text: string) =>
    Buffer.concat([Buffer.from([kind, tenant.length]), Buffer.from(tenant, 'latin1'), Buffer.from(text)]);
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
    ['another kind', record(0x03, 'acme', line)],
    ['no tenant', record(0x02, '', line)],
    ['a tenant the store does not take', record(0x02, 'Acme Corp', line)],
    ['a carriage return', record(0x02, 'acme', `${line}\r\n${line}`)],
    ['an empty line', record(0x02, 'acme', `${line}\n\n${line}`)],
    ['a newline at the end', record(0x02, 'acme', `${line}\n`)],
    ['a line without its timestamp', record(0x02, 'acme', `${line}\n${line.replace(/ \d+$/, '')}`)],
    ['two lines in a one-point record', record(0x01, 'acme', `${line}\n${line}`)],
    ['no timestamp in a one-point record', record(0x01, 'acme', line.replace(/ \d+$/, ''))],
    ['nothing', Buffer.alloc(0)],
  ] as const) {
    assert.equal(decodeRecord(bad), undefined, what);
  }
  assert.deepEqual(
    decoded(record(0x02, 'acme', `${line}\n${line}`)),
    [
      { tenantId: 'acme', line },
      { tenantId: 'acme', line },
    ],
    'the same bytes, well formed',
  );
  assert.equal(decodeRecord(null), undefined);
});
