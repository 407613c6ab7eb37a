import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { syncDir } from './spool-checkpoint.ts';
import { nodeSpoolFiles, type SpoolFile, type SpoolFiles } from './spool-files.ts';
import { decodePayload, readFrame, type SpoolRecord } from './spool-frame.ts';

/**
 * The spool's segment files: an append-only log of framed records split into
 * files of about `segmentBytes`, each named by the log position of its first
 * byte (`00000000000000123456.seg`). Positions only grow; a segment's records
 * live at `base + offset in the file`.
 *
 * Group commit: `append` queues a frame; one loop writes everything queued
 * with a single writev and makes it durable with a single fdatasync, then
 * resolves all of those appends together. Appends arriving during that sync
 * wait for the next one, so the number of syncs follows the disk, not the
 * message rate.
 */
export interface SpoolLogOptions {
  dir: string;
  segmentBytes: number;
  /** Called after each commit: how long the sync took and how many frames it made durable. */
  onCommit?: (seconds: number, frames: number) => void;
  /** How segment files are opened; node:fs unless a test brings its own. */
  files?: SpoolFiles;
}

export interface Recovery {
  /** Records at or after the checkpoint: to be written to the store again. */
  records: number;
  /** Bytes cut off segment ends because they did not hold whole, valid frames. */
  truncatedBytes: number;
  truncatedSegments: number;
}

interface Segment {
  base: number;
  /** Durable bytes in the file. */
  size: number;
}

interface QueuedAppend {
  frame: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const SUFFIX = '.seg';
const nameOf = (base: number) => `${String(base).padStart(20, '0')}${SUFFIX}`;
const READ_CHUNK_BYTES = 1024 * 1024;

export async function openSpoolLog(options: SpoolLogOptions, checkpoint: number) {
  const { dir, segmentBytes } = options;
  const files = options.files ?? nodeSpoolFiles;
  const open = (path: string, flags: 'r' | 'r+' | 'w+') => files.open(path, flags);
  await mkdir(dir, { recursive: true });
  const bases = (await readdir(dir))
    .filter((f) => /^\d{20}\.seg$/.test(f))
    .map((f) => Number(f.slice(0, 20)))
    .sort((a, b) => a - b);

  const segments: Segment[] = [];
  const recovery: Recovery = { records: 0, truncatedBytes: 0, truncatedSegments: 0 };
  for (const [i, base] of bases.entries()) {
    const next = bases[i + 1];
    if (next !== undefined && next <= checkpoint) {
      await rm(join(dir, nameOf(base))); // drained before the last stop
      continue;
    }
    const { size, records, fileSize } = await scanSegment(files, join(dir, nameOf(base)), base, checkpoint);
    if (size < fileSize) {
      // A torn tail (the process died mid-write) or damage: cut it off so no
      // later append lands behind bytes that can never be read.
      const handle = await open(join(dir, nameOf(base)), 'r+');
      await handle.truncate(size);
      await handle.sync();
      await handle.close();
      recovery.truncatedBytes += fileSize - size;
      recovery.truncatedSegments++;
    }
    recovery.records += records;
    segments.push({ base, size });
  }
  const last = segments[segments.length - 1];
  // Appends always go after the checkpoint, even if what it pointed past was lost.
  if (!last || last.base + last.size < checkpoint) segments.push({ base: checkpoint, size: 0 });
  let tail = segments[segments.length - 1] as Segment;
  let tailFile = await open(join(dir, nameOf(tail.base)), tail.size === 0 ? 'w+' : 'r+');
  if (tail.size === 0) await syncDir(dir);

  const queue: QueuedAppend[] = [];
  let reader: { base: number; handle: SpoolFile } | undefined;
  let committing: Promise<void> | undefined;
  let closed = false;

  async function roll(): Promise<void> {
    await tailFile.close();
    tail = { base: tail.base + tail.size, size: 0 };
    segments.push(tail);
    tailFile = await open(join(dir, nameOf(tail.base)), 'w+');
    await syncDir(dir);
  }

  async function commitLoop(): Promise<void> {
    for (;;) {
      if (queue.length === 0) {
        committing = undefined; // cleared in the same tick as the last check: no append is stranded
        return;
      }
      let batch: QueuedAppend[] = [];
      const started = performance.now();
      try {
        if (tail.size > 0 && tail.size + (queue[0]?.frame.length ?? 0) > segmentBytes) await roll();
        // Everything queued that fits in this segment goes in one write and one sync.
        let n = 0;
        let bytes = 0;
        while (n < queue.length) {
          const len = (queue[n] as QueuedAppend).frame.length;
          if (n > 0 && tail.size + bytes + len > segmentBytes) break;
          bytes += len;
          n++;
        }
        batch = queue.splice(0, n);
        const data = Buffer.concat(batch.map((a) => a.frame));
        for (let written = 0; written < data.length; ) {
          const { bytesWritten } = await tailFile.write(
            data,
            written,
            data.length - written,
            tail.size + written,
          );
          written += bytesWritten;
        }
        await tailFile.datasync();
        tail.size += data.length;
        options.onCommit?.((performance.now() - started) / 1000, batch.length);
        for (const a of batch) a.resolve();
      } catch (err) {
        // Not durable, so not acknowledged: the devices resend. Cut the
        // half-written bytes off so the next commit starts on a frame boundary.
        await tailFile.truncate(tail.size).catch(() => {});
        for (const a of batch.length > 0 ? batch : queue.splice(0)) a.reject(err);
      }
    }
  }

  function segmentAt(position: number): Segment | undefined {
    for (let i = segments.length - 1; i >= 0; i--) {
      const s = segments[i] as Segment;
      if (s.base <= position) return s;
    }
    return undefined;
  }

  return {
    recovery,

    /** Log position after the last durable byte. */
    end(): number {
      return tail.base + tail.size;
    },

    /** Bytes in segment files now. */
    bytesOnDisk(): number {
      return segments.reduce((sum, s) => sum + s.size, 0);
    },

    segmentCount(): number {
      return segments.length;
    },

    /** Resolves once `frame` is on disk and synced; appends queued meanwhile share the sync. */
    append(frame: Buffer): Promise<void> {
      if (closed) return Promise.reject(new Error('spool log is closed'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ frame, resolve, reject });
        committing ??= commitLoop();
      });
    },

    /**
     * Up to `maxRecords` durable records from `position`; `next` is where the
     * following read starts (it skips the gap a truncated segment left).
     */
    async read(position: number, maxRecords: number): Promise<{ records: SpoolRecord[]; next: number }> {
      const segment = segmentAt(position);
      if (!segment) return { records: [], next: segments[0]?.base ?? position };
      const offset = position - segment.base;
      if (offset >= segment.size) {
        const following = segments[segments.indexOf(segment) + 1];
        return { records: [], next: following ? following.base : position };
      }
      // The drainer's own read-only handle: the tail's may be closed by a rollover mid-read.
      if (reader?.base !== segment.base) {
        await reader?.handle.close();
        reader = { base: segment.base, handle: await open(join(dir, nameOf(segment.base)), 'r') };
      }
      const { handle } = reader;
      {
        const records: SpoolRecord[] = [];
        let at = offset;
        let chunkBytes = READ_CHUNK_BYTES;
        while (records.length < maxRecords && at < segment.size) {
          const length = Math.min(chunkBytes, segment.size - at);
          const buf = Buffer.allocUnsafe(length);
          const { bytesRead } = await handle.read(buf, 0, length, at);
          if (bytesRead === 0)
            throw new Error(`spool segment ${nameOf(segment.base)} is shorter than what was synced`);
          let pos = 0;
          while (records.length < maxRecords) {
            const frame = readFrame(buf.subarray(0, bytesRead), pos);
            if (frame.kind !== 'record') {
              if (frame.kind === 'corrupt')
                throw new Error(`spool frame at ${segment.base + at + pos} is corrupt`);
              break;
            }
            records.push(decodePayload(frame.payload));
            pos += frame.bytes;
          }
          if (pos === 0) {
            if (length === segment.size - at) break; // cannot happen: durable bytes end on a frame
            chunkBytes *= 2; // a frame larger than the chunk
          }
          at += pos;
        }
        return { records, next: segment.base + at };
      }
    },

    /** Removes segments wholly before `position` (the checkpoint). */
    async deleteBefore(position: number): Promise<void> {
      let removed = false;
      while (segments.length > 1) {
        const first = segments[0] as Segment;
        const second = segments[1] as Segment;
        if (second.base > position) break;
        segments.shift();
        await rm(join(dir, nameOf(first.base)), { force: true });
        removed = true;
      }
      if (removed) await syncDir(dir);
    },

    /** Takes no more appends and waits for the queued ones to be committed. */
    async seal(): Promise<void> {
      closed = true;
      while (committing) await committing;
    },

    async close(): Promise<void> {
      closed = true;
      while (committing) await committing;
      await tailFile.close();
      await reader?.handle.close();
      reader = undefined;
    },
  };
}

export type SpoolLog = Awaited<ReturnType<typeof openSpoolLog>>;

/** Valid bytes at the start of a segment, and how many records from `checkpoint` on. */
async function scanSegment(
  files: SpoolFiles,
  file: string,
  base: number,
  checkpoint: number,
): Promise<{ size: number; records: number; fileSize: number }> {
  const handle = await files.open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    let at = 0;
    let records = 0;
    let chunkBytes = READ_CHUNK_BYTES;
    while (at < fileSize) {
      const length = Math.min(chunkBytes, fileSize - at);
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buf, 0, length, at);
      let pos = 0;
      for (;;) {
        const frame = readFrame(buf.subarray(0, bytesRead), pos);
        if (frame.kind === 'corrupt') return { size: at + pos, records, fileSize };
        if (frame.kind === 'partial') break;
        if (base + at + pos >= checkpoint) records++;
        pos += frame.bytes;
      }
      if (pos === 0) {
        if (length === fileSize - at) return { size: at, records, fileSize }; // torn tail
        chunkBytes *= 2;
      }
      at += pos;
    }
    return { size: at, records, fileSize };
  } finally {
    await handle.close();
  }
}
