import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import { encodePoint } from '../store/line-protocol.ts';
import { decodeLine } from './line-record.ts';
import { readCheckpoint, writeCheckpoint } from './spool-checkpoint.ts';
import { FRAME_HEADER_BYTES, framePayload, readFrame } from './spool-frame.ts';
import { frame, metric, point, recordingWriter, spool, spoolFiles, tempDir, until } from './spool-harness.ts';
import { openSpoolLog } from './spool-log.ts';

/**
 * The spool on a real file system, against a store writer that records what
 * it was given (and can be made to hang, like a store that is down). The real
 * store and real crashes are in test/e2e/spool-*.test.ts.
 */

test('a frame round-trips, and a flipped bit or a cut is never read as a record', () => {
  const whole = frame(7, 'tenant-7');
  const ok = readFrame(whole, 0);
  assert.equal(ok.kind, 'record');
  const record = ok.kind === 'record' ? decodeLine(ok.payload) : undefined;
  assert.equal(record?.tenantId, 'tenant-7');
  assert.equal(record?.line.toString(), encodePoint(point(7)), 'the record holds the line the store is sent');
  for (const cut of [1, FRAME_HEADER_BYTES - 1, FRAME_HEADER_BYTES, whole.length - 1]) {
    assert.equal(readFrame(whole.subarray(0, cut), 0).kind, 'partial', `cut at ${cut}`);
  }
  for (const at of [0, 3, 5, FRAME_HEADER_BYTES, whole.length - 1]) {
    const bad = Buffer.from(whole);
    bad[at] = (bad[at] as number) ^ 0x10;
    assert.notEqual(readFrame(bad, 0).kind, 'record', `bit flipped at ${at}`);
  }
});

test('every send is stored, and concurrent sends share far fewer fsyncs (group commit)', async () => {
  const dir = tempDir();
  const { writer, stored } = recordingWriter();
  const { transport, metrics } = await spool(dir, writer);
  const N = 2_000;
  await Promise.all(Array.from({ length: N }, (_, i) => transport.send('t', point(i))));
  const commits = await metric(metrics, 'skjold_spool_commit_records');
  assert.ok(commits >= 1 && commits < N / 20, `${N} sends made durable by ${commits} fsyncs`);
  await until('all drained', () => stored.length >= N);
  assert.deepEqual(
    [...new Set(stored.map((s) => s.seq))].sort((a, b) => a - b),
    Array.from({ length: N }, (_, i) => i),
  );
  await until('nothing pending', () => transport.buffered() === 0);
  await transport.close();
});

test('segments roll over at their size and drained ones are deleted', async () => {
  const dir = tempDir();
  const { writer, stored, down, up } = recordingWriter();
  down();
  const { transport } = await spool(dir, writer, { segmentBytes: 16 * 1024 });
  const frameBytes = frame(1000).length;
  const N = Math.ceil((5 * 16 * 1024) / frameBytes);
  for (let i = 0; i < N; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, N - i) }, (_, k) => transport.send('t', point(i + k))),
    );
  }
  const segments = readdirSync(dir).filter((f) => f.endsWith('.seg'));
  assert.ok(segments.length >= 5, `${segments.length} segments`);
  for (const s of segments) assert.ok(statSync(join(dir, s)).size <= 16 * 1024, `${s} within its size`);
  up();
  await until('all drained', () => stored.length >= N && transport.buffered() === 0);
  await until(
    'drained segments deleted',
    () => readdirSync(dir).filter((f) => f.endsWith('.seg')).length === 1,
  );
  await transport.close();
});

test('a restart replays from the checkpoint: what the store accepted is not pending, the rest is written', async () => {
  const dir = tempDir();
  const first = recordingWriter();
  const a = await spool(dir, first.writer);
  await Promise.all(Array.from({ length: 100 }, (_, i) => a.transport.send('t', point(i))));
  await until('first 100 drained and checkpointed', () => a.transport.buffered() === 0);
  await until('checkpoint saved', () => readdirSync(dir).includes('checkpoint.json'));
  first.down(); // the store stops answering: the next 50 stay in the spool
  await Promise.all(Array.from({ length: 50 }, (_, i) => a.transport.send('t', point(100 + i))));
  // A crash: no close(), the writer never returns. Open the same directory again.
  const second = recordingWriter();
  const b = await spool(dir, second.writer);
  await until('replayed', () => second.stored.length >= 50 && b.transport.buffered() === 0);
  const seqs = second.stored.map((s) => s.seq);
  for (let i = 100; i < 150; i++) assert.ok(seqs.includes(i), `seq ${i} replayed`);
  assert.ok(
    seqs.filter((s) => s < 100).length === 0,
    'the checkpoint covered the first 100: they are not written again',
  );
  assert.equal(await metric(b.metrics, 'skjold_spool_replayed_total'), 50);
  await b.transport.close();
});

test('a torn tail after a crash is detected and cut off; every whole record before it survives', async () => {
  const dir = tempDir();
  await spoolFiles(dir, 20);
  const [segment] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
  const file = join(dir, segment as string);
  const whole = statSync(file).size;
  // The process died while writing the 21st frame: half of it reached the disk.
  const torn = frame(20);
  appendFileSync(file, torn.subarray(0, torn.length - 7));

  const second = recordingWriter();
  second.down(); // held, so the segment is looked at before it is drained (and deleted)
  const b = await spool(dir, second.writer);
  assert.equal(statSync(file).size, whole, 'the torn frame is cut off');
  second.up();
  await until('replayed', () => b.transport.buffered() === 0);
  assert.deepEqual(
    second.stored.map((s) => s.seq),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.ok(b.lines.some((l) => l.includes('cut off an incomplete')));
  // Appends continue on a frame boundary.
  await b.transport.send('t', point(21));
  await until('stored', () => second.stored.some((s) => s.seq === 21));
  await b.transport.close();
});

test('a CRC mismatch ends the readable log there: the damaged record is never misread', async () => {
  const dir = tempDir();
  await spoolFiles(dir, 10);
  const [segment] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
  const file = join(dir, segment as string);
  const bytes = readFileSync(file);
  const size = frame(0).length; // all ten frames have the same length
  // Damage a payload byte of the 8th record (seq 7): its length is fine, its CRC is not.
  const at = 7 * size + FRAME_HEADER_BYTES + 5;
  bytes[at] = (bytes[at] as number) ^ 0xff;
  writeFileSync(file, bytes);

  const second = recordingWriter();
  second.down();
  const b = await spool(dir, second.writer);
  assert.equal(statSync(file).size, 7 * size);
  second.up();
  await until('replayed', () => b.transport.buffered() === 0);
  assert.deepEqual(
    second.stored.map((s) => s.seq),
    [0, 1, 2, 3, 4, 5, 6],
  );
  await b.transport.close();
});

test('the checkpoint is replaced atomically: a leftover temp file from a crash is ignored', async () => {
  const dir = tempDir();
  assert.equal(await readCheckpoint(dir), 0);
  await writeCheckpoint(dir, 4242);
  writeFileSync(join(dir, 'checkpoint.json.tmp'), '{"posi'); // died before the rename
  assert.equal(await readCheckpoint(dir), 4242);
  await writeCheckpoint(dir, 5000);
  assert.equal(await readCheckpoint(dir), 5000);
});

test('at its bound the spool makes senders wait, says so, and lets them in once the store drains it', async () => {
  const dir = tempDir();
  const { writer, stored, down, up } = recordingWriter();
  down();
  const size = frame(0).length;
  const { transport, metrics, lines } = await spool(dir, writer, { maxBytes: 10 * size });
  let acked = 0;
  const sends = Array.from({ length: 25 }, (_, i) =>
    transport.send('t', point(i)).then(() => {
      acked++;
    }),
  );
  await until('ten acknowledged', () => acked === 10);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(acked, 10, 'no acknowledgement past the bound');
  assert.equal(await metric(metrics, 'skjold_spool_full'), 1);
  assert.ok(lines.some((l) => l.includes('spool full')));
  up();
  await Promise.all(sends);
  await until('all stored', () => new Set(stored.map((s) => s.seq)).size === 25);
  await until('room again', () => lines.some((l) => l.includes('spool has room again')));
  assert.equal(await metric(metrics, 'skjold_spool_full'), 0);
  await transport.close();
});

test('the log reports one commit per group: a single send is one fsync of one frame', async () => {
  const dir = tempDir();
  const groups: number[] = [];
  const log = await openSpoolLog({ dir, segmentBytes: 1 << 20, onCommit: (_s, n) => groups.push(n) }, 0);
  await log.append(frame(1));
  assert.deepEqual(groups, [1]);
  await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(frame(i))));
  assert.equal(
    groups.slice(1).reduce((a, b) => a + b, 0),
    500,
  );
  assert.ok(groups.length - 1 <= 5, `500 appends in ${groups.length - 1} commits`);
  await log.close();
});

test('a spool directory held by another live process is refused; a lock left by a dead one is taken over', async () => {
  const dir = tempDir();
  const { writer } = recordingWriter();
  writeFileSync(join(dir, 'lock'), String(process.ppid)); // the test runner: alive, not us
  await assert.rejects(spool(dir, writer), (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_SPOOL_LOCKED'));
  const dead = spawnSync('true').pid;
  writeFileSync(join(dir, 'lock'), String(dead));
  const { transport } = await spool(dir, writer);
  assert.equal(readFileSync(join(dir, 'lock'), 'utf8'), String(process.pid));
  await transport.close();
  assert.ok(!readdirSync(dir).includes('lock'), 'released at close');
});

test('drained() waits for every point accepted before it, and only those, to reach the store', async () => {
  const dir = tempDir();
  const { writer, stored, down, up } = recordingWriter();
  const { transport } = await spool(dir, writer);
  down();
  await Promise.all(Array.from({ length: 50 }, (_, i) => transport.send('t', point(i))));
  let drained = false;
  const waiting = transport.drained().then(() => {
    drained = true;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(drained, false, 'the store has not accepted them yet');
  up();
  await waiting;
  const seqs = new Set(stored.map((s) => s.seq));
  for (let i = 0; i < 50; i++) assert.ok(seqs.has(i), `point ${i} was stored before drained() resolved`);
  await transport.close();
});

test('frames written across arenas, and one larger than an arena, are committed and read back in order', async () => {
  const dir = tempDir();
  const log = await openSpoolLog({ dir, segmentBytes: 64 << 20 }, 0);
  // ~12,000 frames of ~90 bytes cross the 1 MiB arena; the large one needs an arena of its own.
  const large = Buffer.concat([Buffer.from([1, 1, 0x74]), Buffer.alloc(3 << 20, 0x61)]);
  const frames = Array.from({ length: 12_000 }, (_, i) => frame(i));
  frames.splice(6_000, 0, framePayload(large));
  await Promise.all(frames.map((f) => log.append(f)));
  const read: Buffer[] = [];
  for (let position = 0; position < log.end(); ) {
    const chunk = await log.read(position, 1000);
    read.push(...chunk.payloads.map((p) => Buffer.from(p)));
    position = chunk.next;
  }
  assert.equal(read.length, frames.length);
  for (const [i, f] of frames.entries())
    assert.ok(read[i]?.equals(f.subarray(FRAME_HEADER_BYTES)), `frame ${i}`);
  await log.close();
});
