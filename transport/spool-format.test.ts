import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { encodePoint } from '../store/line-protocol.ts';
import { writeCheckpoint } from './spool-checkpoint.ts';
import { framePayload } from './spool-frame.ts';
import { point, recordingWriter, spool, tempDir, until } from './spool-harness.ts';

/**
 * What a spool record holds: the line-protocol bytes the store is sent, with
 * the tenant in a small header; and what happens to a spool directory written
 * in the JSON format of earlier versions (replayed) or in one this version
 * does not know (refused).
 */

const FIRST_SEGMENT = '00000000000000000000.seg';
const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg'));

/** A segment file as the JSON-format spool wrote it: `[tenantId, point]` payloads. */
function legacySegment(dir: string, records: Array<[string, Point]>): void {
  const frames = records.map((r) => framePayload(Buffer.from(JSON.stringify(r))));
  writeFileSync(join(dir, FIRST_SEGMENT), Buffer.concat(frames));
}

test('the drainer sends the spooled lines as they are, joined into one write body per tenant', async () => {
  const dir = tempDir();
  const rec = recordingWriter();
  rec.down(); // everything is spooled before the first write, so batches hold both tenants
  const { transport } = await spool(dir, rec.writer, { batchPoints: 1000 });
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => transport.send(i % 2 ? 'tenant-a' : 'tenant-b', point(i))),
  );
  rec.up();
  await until('drained', () => rec.stored.length === 40 && transport.buffered() === 0);
  const expected = (odd: number) =>
    Array.from({ length: 20 }, (_, k) => encodePoint(point(2 * k + odd))).join('\n');
  assert.deepEqual(
    rec.bodies.sort((a, b) => a.tenant.localeCompare(b.tenant)),
    [
      { tenant: 'tenant-a', text: expected(1) },
      { tenant: 'tenant-b', text: expected(0) },
    ],
  );
  await transport.close();
});

test('a point larger than the framing buffer, and one with non-ASCII text, are spooled byte for byte', async () => {
  const dir = tempDir();
  const rec = recordingWriter();
  const { transport } = await spool(dir, rec.writer);
  const big: Point = { ...point(1), fields: { ...point(1).fields, note: 'æ🙂'.repeat(40_000) } };
  const small: Point = { ...point(2), fields: { ...point(2).fields, note: 'grøn' } };
  await transport.send('t', big);
  await transport.send('t', small);
  await until('stored', () => rec.stored.length === 2);
  assert.equal(rec.bodies.map((b) => b.text).join('\n'), `${encodePoint(big)}\n${encodePoint(small)}`);
  await transport.close();
});

test('a point line protocol cannot carry is refused at send, as the store would refuse it, and never spooled', async () => {
  const dir = tempDir();
  const rec = recordingWriter();
  const { transport } = await spool(dir, rec.writer);
  const unwritable: Point = { ...point(1), fields: { rssi: Number.NaN } };
  await assert.rejects(transport.send('t', unwritable), (err: unknown) =>
    isSkjoldError(err, 'SKJOLD_ERR_STORE_WRITE'),
  );
  assert.equal(transport.buffered(), 0);
  await transport.send('t', point(2));
  await until('stored', () => rec.stored.length === 1);
  assert.deepEqual(rec.stored, [{ tenant: 't', seq: 2 }]);
  await transport.close();
});

test('a spool left in the JSON format of earlier versions is replayed on upgrade: every record reaches the store as line protocol', async () => {
  const dir = tempDir();
  const unwritable: Point = { ...point(99), fields: { rssi: Number.NaN } };
  legacySegment(dir, [
    ...Array.from({ length: 30 }, (_, i): [string, Point] => [i % 2 ? 'tenant-a' : 'tenant-b', point(i)]),
    ['tenant-a', unwritable],
  ]);
  // The first 10 were in the store before the upgrade: the checkpoint is past them.
  const frameBytes = (i: number) =>
    framePayload(Buffer.from(JSON.stringify([i % 2 ? 'tenant-a' : 'tenant-b', point(i)]))).length;
  await writeCheckpoint(
    dir,
    Array.from({ length: 10 }, (_, i) => frameBytes(i)).reduce((a, b) => a + b, 0),
  );

  const rec = recordingWriter();
  const { transport, lines } = await spool(dir, rec.writer);
  assert.equal(transport.buffered(), 21, 'the 20 records after the checkpoint and the unwritable one');
  assert.ok(
    lines.some((l) => l.includes('JSON format')),
    'the upgrade says what it does',
  );
  await transport.send('tenant-a', point(101)); // new records follow the old ones
  await until('drained', () => transport.buffered() === 0);

  const seqs = rec.stored.map((s) => s.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, [...Array.from({ length: 20 }, (_, i) => 10 + i), 101]);
  for (const s of rec.stored) assert.equal(s.tenant, s.seq % 2 ? 'tenant-a' : 'tenant-b', `seq ${s.seq}`);
  const sent = rec.bodies.flatMap((b) => b.text.split('\n'));
  for (let i = 10; i < 30; i++) assert.ok(sent.includes(encodePoint(point(i))), `seq ${i} as its line`);
  assert.ok(
    lines.some((l) => l.includes('cannot be written; passed over')),
    'the record no store could take is reported, not retried forever',
  );
  await until('the old segment is deleted once drained', () => !segments(dir).includes(FIRST_SEGMENT));
  await transport.close();
});

test('a record of a kind this version does not know stops the start with SKJOLD_ERR_SPOOL_FORMAT; the file is kept', async () => {
  const dir = tempDir();
  const future = framePayload(Buffer.from([0x7f, 1, 0x74, 0x61, 0x62, 0x63]));
  writeFileSync(join(dir, FIRST_SEGMENT), future);
  const rec = recordingWriter();
  await assert.rejects(spool(dir, rec.writer), (err: unknown) => {
    assert.ok(isSkjoldError(err, 'SKJOLD_ERR_SPOOL_FORMAT'));
    assert.match((err as Error).message, /kind 0x7f.*cannot read/);
    return true;
  });
  assert.deepEqual(readFileSync(join(dir, FIRST_SEGMENT)), future, 'an acknowledged record is never cut off');
  assert.ok(
    !readdirSync(dir).includes('lock'),
    'the directory is left unlocked for the version that can read it',
  );
});
