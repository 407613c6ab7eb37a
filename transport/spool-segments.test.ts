import assert from 'node:assert/strict';
import { constants, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { nodeSpoolFiles, type SpoolFile, type SpoolFiles } from './spool-files.ts';
import { frame, point, recordingWriter, spool, tempDir, until } from './spool-harness.ts';
import { openSpoolLog, type SpoolLog } from './spool-log.ts';
import { seqOf } from './transport.contract.ts';

/**
 * How long points stay on disk once the store has them (art. 17: an erased
 * reading must not survive in the spool; art. 5(1)(e)), and how appends are
 * grouped into commits.
 */

const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg'));
const AGE_MS = 300;

test('once the store has a segment’s records and the checkpoint is past them, the segment file is gone within its age bound', async () => {
  const dir = tempDir();
  const rec = recordingWriter();
  // Segments far larger than the traffic: only the age ends one, as with a quiet fleet.
  const { transport } = await spool(dir, rec.writer, {
    segmentBytes: 32 * 1024 ** 2,
    segmentMaxAgeMs: AGE_MS,
  });
  await Promise.all(Array.from({ length: 200 }, (_, i) => transport.send('t', point(i))));
  await transport.drained();
  const drainedAt = Date.now();
  assert.equal(segments(dir).length, 1, 'the records are on disk until then');
  await until('no segment left', () => segments(dir).length === 0, AGE_MS + 2_000);
  const lingered = Date.now() - drainedAt;
  assert.ok(lingered <= AGE_MS + 2_000, `gone ${lingered} ms after the store had it`);
  await transport.close();
});

test('under steady traffic a drained segment is deleted within its age bound, not when the segment fills', async () => {
  const dir = tempDir();
  const rec = recordingWriter();
  const { transport } = await spool(dir, rec.writer, {
    segmentBytes: 32 * 1024 ** 2,
    segmentMaxAgeMs: AGE_MS,
  });
  await transport.send('t', point(0));
  const [first] = segments(dir);
  assert.ok(first, 'the first segment exists');
  const started = Date.now();
  let seq = 1;
  // A trickle keeps a segment open for appends all the time; the first one must go all the same.
  while (segments(dir).includes(first)) {
    assert.ok(Date.now() - started < AGE_MS + 3_000, `${first} still there after ${Date.now() - started} ms`);
    await transport.send('t', point(seq++));
    await delay(10);
  }
  await until('all stored', () => transport.buffered() === 0);
  for (const f of segments(dir)) {
    assert.ok(!readFileSync(join(dir, f)).includes('seq=0i'), `${f} does not hold the first point`);
  }
  assert.equal(new Set(rec.stored.map((s) => s.seq)).size, seq, 'nothing lost to the rollovers');
  await transport.close();
});

test('the segment taking appends is open with O_DSYNC, so a commit’s one write is its sync', async () => {
  const dir = tempDir();
  const log = await openSpoolLog({ dir, segmentBytes: 1 << 20 }, 0);
  await log.append(frame(0));
  // The kernel's own record of the open file: fdinfo's `flags` are the open(2) flags, in octal.
  const fds = readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false; // closed since the listing
    }
  });
  assert.equal(fds.length, 1, 'one segment file open');
  const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fds[0]}`, 'utf8'))?.[1];
  assert.ok(flags, 'fdinfo gives the flags');
  assert.equal(Number.parseInt(flags, 8) & constants.O_DSYNC, constants.O_DSYNC, `flags ${flags}`);
  await log.close();
});

test('a group commit stops at its record and byte caps', async () => {
  const dir = tempDir();
  const groups: number[] = [];
  const size = frame(0).length;
  const log = await openSpoolLog(
    {
      dir,
      segmentBytes: 1 << 20,
      commit: { maxRecords: 100, maxBytes: 40 * size, maxWaitMs: 0 },
      onCommit: (_s, n) => groups.push(n),
    },
    0,
  );
  await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(frame(i))));
  assert.equal(
    groups.reduce((a, b) => a + b, 0),
    500,
  );
  assert.ok(Math.max(...groups) <= 40, `groups ${groups.join(',')} within 40 records' bytes`);
  await log.close();
});

test('a commit waits up to its wait for the group to fill, and no longer once it is full', async () => {
  const dir = tempDir();
  const groups: number[] = [];
  const log = await openSpoolLog(
    {
      dir,
      segmentBytes: 1 << 20,
      commit: { maxRecords: 10, maxBytes: 1 << 20, maxWaitMs: 500 },
      onCommit: (_s, n) => groups.push(n),
    },
    0,
  );
  const first = log.append(frame(0));
  await delay(20);
  const rest = Array.from({ length: 4 }, (_, i) => log.append(frame(i + 1)));
  await Promise.all([first, ...rest]);
  assert.deepEqual(groups, [5], 'appends within the wait share one sync');

  const started = Date.now();
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(frame(i))));
  assert.deepEqual(groups, [5, 10]);
  // A full group is not held back: well under the 500 ms wait, with margin for a busy machine.
  assert.ok(Date.now() - started < 400, `${Date.now() - started} ms for a full group`);
  await log.close();
});

test('the drainer takes unread commits from memory up to the bound and the rest from the file: every record once, in order', async () => {
  const dir = tempDir();
  let fileReads = 0;
  const files: SpoolFiles = {
    async open(path, flags) {
      const file = await nodeSpoolFiles.open(path, flags);
      return Object.assign(Object.create(file) as SpoolFile, {
        read: (buffer: Buffer, offset: number, length: number, position: number) => {
          fileReads++;
          return file.read(buffer, offset, length, position);
        },
      });
    },
  };
  const size = frame(0).length;
  /** Seqs of the records from `at` up to `to` (the log's end by default), read `batch` at a time. */
  const readFrom = async (log: SpoolLog, at: number, batch: number, to = log.end()) => {
    const seqs: number[] = [];
    while (at < to) {
      const chunk = await log.read(at, batch);
      for (const payload of chunk.payloads) seqs.push(seqOf(payload.toString()));
      at = chunk.next;
    }
    return { seqs, at };
  };
  const all = Array.from({ length: 60 }, (_, i) => i);

  // Groups of 4 records, room in memory for about 5 groups: the first records come from memory, the
  // rest from the file; appends made once the drainer has read some fit in memory again.
  const mixed = await openSpoolLog(
    {
      dir,
      segmentBytes: 1 << 20,
      commit: { maxRecords: 4, maxBytes: 1 << 20, maxWaitMs: 0 },
      keepBytes: 20 * size,
      files,
    },
    0,
  );
  await Promise.all(all.map((i) => mixed.append(frame(i))));
  const head = await readFrom(mixed, 0, 7, 10 * size);
  await Promise.all(Array.from({ length: 20 }, (_, i) => mixed.append(frame(60 + i))));
  const rest = await readFrom(mixed, head.at, 7);
  const later = Array.from({ length: 20 }, (_, i) => 60 + i);
  assert.deepEqual([...head.seqs, ...rest.seqs], [...all, ...later]);
  assert.ok(fileReads > 0, 'what did not fit was read from the segment');
  await mixed.close();

  // With room for everything, the segment is not read at all; the records are the same.
  fileReads = 0;
  const kept = await openSpoolLog(
    {
      dir: tempDir(),
      segmentBytes: 1 << 20,
      commit: { maxRecords: 4, maxBytes: 1 << 20, maxWaitMs: 0 },
      keepBytes: 1 << 20,
      files,
    },
    0,
  );
  await Promise.all(all.map((i) => kept.append(frame(i))));
  assert.deepEqual((await readFrom(kept, 0, 7)).seqs, all);
  assert.equal(fileReads, 0, 'every record came from memory');
  await kept.close();
});
