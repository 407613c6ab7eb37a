import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { syncDir } from './spool-checkpoint.ts';
import { nodeSpoolFiles, type SpoolFile, type SpoolFiles, type SpoolOpenFlags } from './spool-files.ts';
import { FRAME_HEADER_BYTES, readFrame } from './spool-frame.ts';
import { READ_CHUNK_BYTES, scanSegment } from './spool-scan.ts';

/**
 * The spool's segment files: an append-only log of framed records split into
 * files, each named by the log position of its first byte
 * (`00000000000000123456.seg`). Positions only grow; a segment's records live
 * at `base + offset in the file`.
 *
 * Group commit: `appendWith` writes a frame into the current arena, behind
 * those queued before it; one loop writes a group of queued frames from there
 * with a single write to a file opened O_DSYNC, which returns once the bytes
 * are durable (as an fdatasync would leave them), then resolves all of those
 * appends together. Appends arriving during that
 * sync wait for the next one, so the number of syncs follows the disk, not the
 * message rate. A group is capped (`commit`): see transport/README.md for the
 * measurement behind the caps.
 *
 * A segment takes appends until it holds `segmentBytes` or has taken them for
 * `segmentMaxAgeMs`; then the next one starts (its file is created with its
 * first append). A segment is deleted as soon as the checkpoint has passed its
 * end, so a point the store has taken does not stay on disk for longer than
 * about that age — art. 17: an erased reading must not survive in the spool,
 * art. 5(1)(e): kept no longer than needed.
 */
export interface SpoolLogOptions {
  dir: string;
  segmentBytes: number;
  /** A segment takes appends for at most this long (ms); default: no limit. */
  segmentMaxAgeMs?: number;
  /** The most one commit (one durable write) takes; default: everything queued. */
  commit?: CommitPolicy;
  /** Called after each commit: how long the sync took and how many frames it made durable. */
  onCommit?: (seconds: number, frames: number) => void;
  /** How segment files are opened; node:fs unless a test brings its own. */
  files?: SpoolFiles;
  /** Committed bytes kept in memory for `read` until it has passed them; default 0 (reads go to the file). */
  keepBytes?: number;
}

export interface CommitPolicy {
  maxRecords: number;
  maxBytes: number;
  /** A commit waits until its oldest append is this old (ms), unless the group is full before. */
  maxWaitMs: number;
}

export interface Recovery {
  /** Records at or after the checkpoint: to be written to the store again. */
  records: number;
  /** Of those, records of the JSON format before line protocol. */
  legacyRecords: number;
  /** Bytes cut off segment ends because they did not hold whole, valid frames. */
  truncatedBytes: number;
  truncatedSegments: number;
}

interface Segment {
  base: number;
  /** Durable bytes in the file. */
  size: number;
}

/** A commit's bytes, kept for the drainer so it need not read them back from the file. */
interface Committed {
  position: number;
  data: Buffer;
}

/**
 * Appends queued between two commits share one promise, settled once the
 * last of their frames is durable (or its commit failed): one promise per
 * group, not one per frame, at ~25,000 appends a second.
 */
interface AppendGroup {
  /** Frames of this group still in the queue. */
  queued: number;
  /** performance.now() at its first append. */
  at: number;
  /** A commit has taken some of its frames: later appends start a new group. */
  closed: boolean;
  /** A commit of some of its frames failed: it is rejected, and stays so. */
  failed: boolean;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function appendGroup(): AppendGroup {
  const { promise: done, resolve, reject } = Promise.withResolvers<void>();
  return { queued: 0, at: performance.now(), closed: false, failed: false, done, resolve, reject };
}

/**
 * Writes one frame, made from `a` and `b`, into `buf` from `at`: returns
 * where it ends, or -1 when it does not fit (nothing is queued then, and the
 * log tries a fresh arena). The frame's parts are passed rather than
 * captured, so an append makes no closure.
 */
export type FrameWriter<A, B> = (buf: Buffer, at: number, a: A, b: B) => number;

/** A frame already built, copied into the arena. */
const copyFrame: FrameWriter<Buffer, undefined> = (buf, at, frame) =>
  at + frame.length > buf.length ? -1 : at + frame.copy(buf, at);

/** Queued frames, back to back in an arena: `buf[start, end)`. */
interface Queued {
  buf: Buffer;
  start: number;
  end: number;
}

/**
 * Frames are written straight into an arena of this size and committed from
 * there: no buffer per frame and no copy per commit. A full arena is left to
 * the garbage collector (the drainer's kept commits may still point into it)
 * and a new one started; at 1 MiB glibc maps it apart from its heap and
 * unmaps it when it is freed.
 */
const ARENA_BYTES = 1024 * 1024;

const SUFFIX = '.seg';
const nameOf = (base: number) => `${String(base).padStart(20, '0')}${SUFFIX}`;
const UNLIMITED: CommitPolicy = {
  maxRecords: Number.POSITIVE_INFINITY,
  maxBytes: Number.POSITIVE_INFINITY,
  maxWaitMs: 0,
};

export async function openSpoolLog(options: SpoolLogOptions, checkpoint: number) {
  const { dir, segmentBytes } = options;
  const files = options.files ?? nodeSpoolFiles;
  const policy = options.commit ?? UNLIMITED;
  const maxAgeMs = options.segmentMaxAgeMs ?? Number.POSITIVE_INFINITY;
  const keepBytes = options.keepBytes ?? 0;
  const open = (path: string, flags: SpoolOpenFlags) => files.open(path, flags);
  await mkdir(dir, { recursive: true });
  const bases = (await readdir(dir))
    .filter((f) => /^\d{20}\.seg$/.test(f))
    .map((f) => Number(f.slice(0, 20)))
    .sort((a, b) => a - b);

  const segments: Segment[] = [];
  const recovery: Recovery = { records: 0, legacyRecords: 0, truncatedBytes: 0, truncatedSegments: 0 };
  let end = checkpoint;
  for (const [i, base] of bases.entries()) {
    const next = bases[i + 1];
    if (next !== undefined && next <= checkpoint) {
      await rm(join(dir, nameOf(base))); // drained before the last stop
      continue;
    }
    const scan = await scanSegment(files, join(dir, nameOf(base)), base, checkpoint);
    end = Math.max(end, base + scan.size);
    if (scan.size === 0 || base + scan.size <= checkpoint) {
      await rm(join(dir, nameOf(base))); // drained (or empty): nothing in it is needed
      continue;
    }
    if (scan.size < scan.fileSize) {
      // A torn tail (the process died mid-write) or damage: cut it off so no
      // later read runs into bytes that can never be read.
      const handle = await open(join(dir, nameOf(base)), 'r+');
      await handle.truncate(scan.size);
      await handle.sync();
      await handle.close();
      recovery.truncatedBytes += scan.fileSize - scan.size;
      recovery.truncatedSegments++;
    }
    recovery.records += scan.records;
    recovery.legacyRecords += scan.legacyRecords;
    segments.push({ base, size: scan.size });
  }
  await syncDir(dir);
  // Appends go to a new segment after everything found, and after the checkpoint even if what it pointed past was lost.
  let tail: Segment = { base: end, size: 0 };
  segments.push(tail);
  let tailFile: SpoolFile | undefined; // created with the tail's first append
  let tailStarted = 0; // when the tail took its first bytes (performance.now())
  let ageTimer: NodeJS.Timeout | undefined;
  let drainedTo = checkpoint; // the last checkpoint the spool reported

  const queue: Queued[] = []; // frames not yet written, oldest first
  let queuedFrames = 0;
  let arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
  let arenaUsed = 0;
  const groups: AppendGroup[] = []; // their groups, oldest first
  // Commits not yet read, oldest first, in log order with gaps where one did not fit (read from the file).
  const kept: Committed[] = [];
  let keptBytes = 0;
  let queuedBytes = 0;
  let lingering: (() => void) | undefined; // wakes a commit waiting for its group to fill
  let reader: { base: number; handle: SpoolFile } | undefined;
  let reading = false;
  let committing = false;
  let closed = false;
  // Commits and rollovers touch the tail file one at a time, in order.
  let tailWork: Promise<void> = Promise.resolve();
  const onTail = (fn: () => Promise<void>): Promise<void> => {
    const run = tailWork.then(fn);
    tailWork = run.catch(() => {});
    return run;
  };

  /** Ends the tail: its file is complete, and deleted once the checkpoint passes it. */
  async function roll(): Promise<void> {
    clearTimeout(ageTimer);
    ageTimer = undefined;
    await tailFile?.close();
    tailFile = undefined;
    tail = { base: tail.base + tail.size, size: 0 };
    segments.push(tail);
  }

  async function commitLoop(): Promise<void> {
    for (;;) {
      if (queuedFrames === 0) {
        committing = false; // cleared in the same tick as the last check: no append is stranded
        return;
      }
      let frames = 0;
      let settles: AppendGroup[] = []; // the groups with frames in this commit
      const wait = (groups[0] as AppendGroup).at + policy.maxWaitMs - performance.now();
      if (wait > 0 && !groupFull()) {
        // Fewer, larger syncs for a few ms of PUBACK latency: each sync costs CPU the machine is short of.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(wake, wait);
          function wake(): void {
            clearTimeout(timer);
            lingering = undefined;
            resolve();
          }
          lingering = wake;
        });
      }
      const started = performance.now();
      try {
        const head = queue[0] as Queued;
        const first = FRAME_HEADER_BYTES + head.buf.readUInt32BE(head.start);
        if (tail.size > 0 && (tail.size + first > segmentBytes || started - tailStarted >= maxAgeMs)) {
          await roll();
          await removeDrained();
        }
        if (!tailFile) {
          tailFile = await open(join(dir, nameOf(tail.base)), 'w+dsync');
          await syncDir(dir);
        }
        // Queued frames, up to the commit policy and the segment's size, go in one durable write.
        const pieces = dequeue(policy.maxRecords, Math.min(policy.maxBytes, segmentBytes - tail.size));
        frames = pieces.frames;
        settles = take(frames);
        const data = pieces.data.length === 1 ? (pieces.data[0] as Buffer) : Buffer.concat(pieces.data);
        for (let written = 0; written < data.length; ) {
          const { bytesWritten } = await tailFile.write(
            data,
            written,
            data.length - written,
            tail.size + written,
          );
          written += bytesWritten;
        }
        keep(tail.base + tail.size, data);
        if (tail.size === 0) startAgeClock();
        tail.size += data.length;
        options.onCommit?.((performance.now() - started) / 1000, frames);
        for (const g of settles) if (g.queued === 0 && !g.failed) g.resolve();
      } catch (err) {
        // Not durable, so not acknowledged: the devices resend. Cut the
        // half-written bytes off so the next commit starts on a frame boundary.
        await tailFile?.truncate(tail.size).catch(() => {});
        if (frames === 0) settles = take(dequeue(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY).frames);
        for (const g of settles) {
          g.failed = true;
          g.reject(err);
        }
      }
    }
  }

  /**
   * Takes queued frames from the front: at most `maxFrames`, and no more
   * than `maxBytes` unless the first alone is larger. Returns their bytes as
   * views into the arenas (one, unless they cross from one arena to the next).
   */
  function dequeue(maxFrames: number, maxBytes: number): { frames: number; data: Buffer[] } {
    const data: Buffer[] = [];
    let frames = 0;
    let bytes = 0;
    while (queue.length > 0 && frames < maxFrames) {
      const q = queue[0] as Queued;
      let at = q.start;
      while (at < q.end && frames < maxFrames) {
        const len = FRAME_HEADER_BYTES + q.buf.readUInt32BE(at);
        if (frames > 0 && bytes + len > maxBytes) break;
        at += len;
        bytes += len;
        frames++;
      }
      if (at > q.start) data.push(q.buf.subarray(q.start, at));
      if (at < q.end) {
        q.start = at;
        break;
      }
      queue.shift();
    }
    queuedFrames -= frames;
    queuedBytes -= bytes;
    return { frames, data };
  }

  /**
   * Queues the frame `write` puts into the arena. Resolves once it is on
   * disk and synced; appends queued meanwhile share the sync, and the
   * promise (callers must not tell them apart). Returns undefined, with
   * nothing queued, when the frame is larger than `room` bytes. Throws what
   * `write` throws, with nothing queued.
   */
  function appendWith<A, B>(
    write: FrameWriter<A, B>,
    a: A,
    b: B,
    room = Number.POSITIVE_INFINITY,
  ): Promise<void> | undefined {
    if (closed) return Promise.reject(new Error('spool log is closed'));
    let start = arenaUsed;
    let end = write(arena, start, a, b);
    for (let size = ARENA_BYTES; end < 0; size *= 2) {
      arena = Buffer.allocUnsafeSlow(size);
      arenaUsed = 0;
      start = 0;
      end = write(arena, 0, a, b);
    }
    if (end - start > room) return undefined;
    arenaUsed = end;
    const last = queue[queue.length - 1];
    if (last?.buf === arena && last.end === start) last.end = end;
    else queue.push({ buf: arena, start, end });
    queuedFrames++;
    queuedBytes += end - start;
    let group = groups[groups.length - 1];
    if (!group || group.closed) {
      group = appendGroup();
      groups.push(group);
    }
    group.queued++;
    if (lingering && groupFull()) lingering();
    if (!committing) {
      committing = true;
      void onTail(commitLoop);
    }
    return group.done;
  }

  /** The groups the next `n` queued frames belong to; a group with none left queued leaves the list. */
  function take(n: number): AppendGroup[] {
    const taken: AppendGroup[] = [];
    for (let left = n; left > 0; ) {
      const g = groups[0] as AppendGroup;
      const k = Math.min(left, g.queued);
      g.queued -= k;
      g.closed = true;
      left -= k;
      taken.push(g);
      if (g.queued > 0) break;
      groups.shift();
    }
    return taken;
  }

  /** Keeps a commit for the drainer while the bound allows; one that does not fit is read from the file. */
  function keep(position: number, data: Buffer): void {
    if (keptBytes + data.length > keepBytes) return;
    kept.push({ position, data });
    keptBytes += data.length;
  }

  /** Lets go of every kept commit that ends at or before `position`. */
  function forget(position: number): void {
    while (kept.length > 0) {
      const first = kept[0] as Committed;
      if (first.position + first.data.length > position) return;
      kept.shift();
      keptBytes -= first.data.length;
    }
  }

  /**
   * Up to `maxRecords` payloads from kept commits, from `position` on while
   * they follow each other; undefined when `position` is not in one. These
   * bytes never left the process, so their CRCs are not checked again.
   */
  function readKept(position: number, maxRecords: number) {
    forget(position);
    const first = kept[0];
    if (!first || first.position > position) return undefined;
    const payloads: Buffer[] = [];
    let at = position;
    for (const c of kept) {
      if (c.position !== at && payloads.length > 0) break;
      let pos = at - c.position;
      while (pos < c.data.length && payloads.length < maxRecords) {
        const length = c.data.readUInt32BE(pos);
        payloads.push(c.data.subarray(pos + FRAME_HEADER_BYTES, pos + FRAME_HEADER_BYTES + length));
        pos += FRAME_HEADER_BYTES + length;
      }
      at = c.position + pos;
      if (payloads.length >= maxRecords) break;
    }
    forget(at);
    return { payloads, next: at };
  }

  function groupFull(): boolean {
    return closed || queuedFrames >= policy.maxRecords || queuedBytes >= policy.maxBytes;
  }

  /** A tail that stops taking appends still ends at its age, so a quiet spool is emptied too. */
  function startAgeClock(): void {
    tailStarted = performance.now();
    if (!Number.isFinite(maxAgeMs)) return;
    const aged = tail;
    ageTimer = setTimeout(() => {
      void onTail(async () => {
        if (tail !== aged || tail.size === 0 || closed) return;
        await roll();
        await removeDrained();
      }).catch(() => {}); // a failed close or removal is retried with the next checkpoint
    }, maxAgeMs);
    ageTimer.unref();
  }

  /** Deletes every segment but the tail whose records are all before the checkpoint. */
  async function removeDrained(): Promise<void> {
    let removed = false;
    while (segments.length > 1) {
      const first = segments[0] as Segment;
      if (first.base + first.size > drainedTo) break;
      segments.shift();
      if (reader?.base === first.base && !reading) {
        await reader.handle.close();
        reader = undefined;
      }
      await rm(join(dir, nameOf(first.base)), { force: true });
      removed = true;
    }
    if (removed) await syncDir(dir);
  }

  function segmentAt(position: number): Segment | undefined {
    for (let i = segments.length - 1; i >= 0; i--) {
      const s = segments[i] as Segment;
      if (s.base <= position) return s;
    }
    return undefined;
  }

  async function readAt(segment: Segment, offset: number, maxRecords: number) {
    // The drainer's own read-only handle: the tail's may be closed by a rollover mid-read.
    if (reader?.base !== segment.base) {
      await reader?.handle.close();
      reader = { base: segment.base, handle: await open(join(dir, nameOf(segment.base)), 'r') };
    }
    const { handle } = reader;
    const payloads: Buffer[] = [];
    let at = offset;
    let chunkBytes = READ_CHUNK_BYTES;
    while (payloads.length < maxRecords && at < segment.size) {
      const length = Math.min(chunkBytes, segment.size - at);
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buf, 0, length, at);
      if (bytesRead === 0)
        throw new Error(`spool segment ${nameOf(segment.base)} is shorter than what was synced`);
      let pos = 0;
      while (payloads.length < maxRecords) {
        const frame = readFrame(buf.subarray(0, bytesRead), pos);
        if (frame.kind !== 'record') {
          if (frame.kind === 'corrupt')
            throw new Error(`spool frame at ${segment.base + at + pos} is corrupt`);
          break;
        }
        payloads.push(frame.payload);
        pos += frame.bytes;
      }
      if (pos === 0) {
        if (length === segment.size - at) break; // cannot happen: durable bytes end on a frame
        chunkBytes *= 2; // a frame larger than the chunk
      }
      at += pos;
    }
    return { payloads, next: segment.base + at };
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

    /** `appendWith` for a frame already built. */
    append(frame: Buffer): Promise<void> {
      return appendWith(copyFrame, frame, undefined) as Promise<void>;
    },

    appendWith,

    /** Bytes appended and not yet committed. */
    queuedBytes(): number {
      return queuedBytes;
    },

    /**
     * The payloads of up to `maxRecords` durable records from `position`, as
     * views into the read buffer; `next` is where the following read starts
     * (it skips the gap a truncated segment left).
     */
    async read(position: number, maxRecords: number): Promise<{ payloads: Buffer[]; next: number }> {
      const segment = segmentAt(position);
      if (!segment) return { payloads: [], next: segments[0]?.base ?? position };
      const offset = position - segment.base;
      if (offset >= segment.size) {
        const following = segments[segments.indexOf(segment) + 1];
        return { payloads: [], next: following ? following.base : position };
      }
      const fromMemory = readKept(position, maxRecords);
      if (fromMemory) return fromMemory;
      reading = true;
      try {
        const chunk = await readAt(segment, offset, maxRecords);
        forget(chunk.next);
        return chunk;
      } finally {
        reading = false;
        // A segment deleted while it was read: let go of its blocks now, not at the next read.
        if (reader && !segments.some((s) => s.base === reader?.base)) {
          await reader.handle.close();
          reader = undefined;
        }
      }
    },

    /** The store has taken everything before `position` (the checkpoint): segments wholly before it go. */
    async deleteBefore(position: number): Promise<void> {
      drainedTo = Math.max(drainedTo, position);
      await removeDrained();
    },

    /** Takes no more appends and waits for the queued ones to be committed. */
    async seal(): Promise<void> {
      closed = true;
      lingering?.();
      await tailWork;
    },

    async close(): Promise<void> {
      closed = true;
      lingering?.();
      clearTimeout(ageTimer);
      await tailWork;
      await tailFile?.close();
      tailFile = undefined;
      kept.length = 0;
      keptBytes = 0;
      await reader?.handle.close();
      reader = undefined;
    },
  };
}

export type SpoolLog = Awaited<ReturnType<typeof openSpoolLog>>;
