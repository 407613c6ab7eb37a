import { mkdir } from 'node:fs/promises';
import { isSkjoldError, SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { joinLines } from '../store/line-protocol.ts';
import { decodeLine, type LineRecord } from './line-record.ts';
import { readCheckpoint, writeCheckpoint } from './spool-checkpoint.ts';
import type { SpoolFiles } from './spool-files.ts';
import { writeFrame } from './spool-frame.ts';
import { decodeLegacy } from './spool-legacy.ts';
import { lockSpoolDir } from './spool-lock.ts';
import { type CommitPolicy, openSpoolLog } from './spool-log.ts';
import type { LineWriter } from './store-writer.ts';
import type { Transport } from './transport.ts';

export interface SpoolOptions {
  /** Segment files and the checkpoint live here. */
  dir: string;
  writer: LineWriter;
  metrics: Metrics;
  logger: Logger;
  /** Records per store write, at most (split per tenant). */
  batchPoints: number;
  /** A partial batch is written once it has waited this many ms. */
  maxWaitMs: number;
  /** Bytes of records not yet accepted by the store before `send` makes callers wait. */
  maxBytes: number;
  /** A new segment file is started past this size. */
  segmentBytes: number;
  /** …or once a segment has taken appends for this long (ms), so a drained one can be deleted. */
  segmentMaxAgeMs: number;
  /** The most one group commit (one durable write) takes; COMMIT_POLICY by default. */
  commit?: CommitPolicy;
  /** Unread committed bytes kept in memory for the drainer; KEEP_UNREAD_BYTES by default, 0 reads every record from the file. */
  keepUnreadBytes?: number;
  /** Batches written to the store at once; DRAIN_WRITES_IN_FLIGHT by default. */
  concurrency?: number;
  /** How segment files are opened (node:fs by default; tests make the durable write hang or fail). */
  files?: SpoolFiles;
}

/**
 * Group commit, sized by `node benchmarks/spool-fsync.ts` on the 2-core reference
 * VM (transport/README.md has the table): one durable write costs about
 * the same (~0.2–0.6 ms) up to ~300 KiB and grows past ~1 MiB (1.5 ms at
 * 1.4 MiB; at 2.9 and 5.9 MiB 14 and 40 ms one day, 2.6 and 4.8 another,
 * with p99s several times that). A
 * group stops at 4,000 records or 1 MiB, whichever comes first (records are
 * ~200–300 bytes), so a backlog is acknowledged in steady steps of ~1 ms
 * rather than one long sync; a commit waits up to 2 ms for its
 * group to fill, because at 20k msg/s syncs that short would otherwise come
 * ~3,000 times a second for a handful of records each, on CPU the broker and
 * InfluxDB need.
 */
export const COMMIT_POLICY: CommitPolicy = { maxRecords: 4000, maxBytes: 1024 * 1024, maxWaitMs: 2 };

/**
 * Committed records the drainer has not read yet are kept in memory up to this
 * many bytes, so it takes them from there instead of reading the segment back
 * (a thread-pool round trip, a 1 MiB read buffer and a CRC per record). With
 * records of ~215–250 bytes this is more than a second of traffic at 30,000
 * msg/s; what does not fit is read from the file when the drainer gets there.
 */
export const KEEP_UNREAD_BYTES = 8 * 1024 * 1024;

/**
 * One batch in the store at a time (its tenants' writes in parallel): the
 * next takes what arrived meanwhile, up to `batchPoints`, so writes grow with
 * the load. influxd's CPU per point falls with the size of a write: at 26,000
 * points/s, 23.6 µs a point in writes of 300, 16.4 at 900, 13.8 at 2,000,
 * 9.4 at 5,000 and 9.7 at 10,000 (`node benchmarks/influx-write-size.ts`).
 * With two batches at a time of up to 2,000, the drainer's writes held ~900
 * points each. benchmarks/README.md, "The spool under load", has the
 * end-to-end runs.
 */
export const DRAIN_WRITES_IN_FLIGHT = 1;

interface Drain {
  /** Log position after this batch's last record. */
  end: number;
  records: number;
  done: boolean;
}

/**
 * The embedded default transport: a local write-ahead spool. `send` resolves
 * once the point is in a segment file and fsynced (group commit), so a
 * device's PUBACK means "durable on this machine". A drainer reads the spool
 * from the checkpoint, writes batches to the store through the store writer
 * (which retries while the store is down) and moves the checkpoint only after
 * the store accepted a batch. After a crash the spool is replayed from the
 * checkpoint; points written twice overwrite themselves in InfluxDB.
 *
 * When the store stays down until the spool holds `maxBytes`, `send` waits:
 * no PUBACK, devices keep their messages and resend — nothing is dropped.
 *
 * Only Points enter the spool, i.e. what ingest made of a message after
 * pseudonymisation: raw identifiers never reach the disk here.
 */
export async function createSpoolTransport(options: SpoolOptions): Promise<Transport> {
  const { dir, writer, metrics, logger, batchPoints, maxWaitMs, maxBytes } = options;
  const concurrency = options.concurrency ?? DRAIN_WRITES_IN_FLIGHT;
  await mkdir(dir, { recursive: true });
  const unlock = await lockSpoolDir(dir);
  let checkpoint = await readCheckpoint(dir).catch((err: unknown) => {
    // Replaying everything is safe (duplicates overwrite themselves); refusing to start is not.
    logger.error({ err }, 'spool: checkpoint unreadable; replaying the whole spool');
    return 0;
  });
  const log = await openSpoolLog(
    {
      dir,
      segmentBytes: options.segmentBytes,
      segmentMaxAgeMs: options.segmentMaxAgeMs,
      commit: options.commit ?? COMMIT_POLICY,
      keepBytes: options.keepUnreadBytes ?? KEEP_UNREAD_BYTES,
      ...(options.files ? { files: options.files } : {}),
      onCommit(seconds, frames) {
        metrics.spoolFsyncSeconds.observe(seconds);
        metrics.spoolCommitRecords.observe(frames);
        // Counted here, once per commit, before the appends' shared promise resolves.
        pending += frames;
        updateGaugesSoon();
        kick();
      },
    },
    checkpoint,
  ).catch(async (err: unknown) => {
    await unlock(); // a spool this version cannot read stays for one that can
    throw err;
  });
  const { recovery } = log;
  if (recovery.truncatedBytes > 0) {
    logger.warn(
      { bytes: recovery.truncatedBytes, segments: recovery.truncatedSegments },
      'spool: cut off an incomplete or damaged tail (never acknowledged, or the disk lost it)',
    );
  }
  if (recovery.records > 0)
    logger.info({ records: recovery.records }, 'spool: replaying from the checkpoint');
  if (recovery.legacyRecords > 0) {
    logger.info(
      { records: recovery.legacyRecords },
      'spool: records of the JSON format of earlier versions are converted to line protocol as they are written',
    );
  }

  let pending = recovery.records; // records durable in the spool, not yet accepted by the store
  let toReplay = recovery.records;
  let readPos = checkpoint;
  let drainedPos = checkpoint;
  const inFlight: Drain[] = [];
  let pumping: Promise<void> | undefined;
  let lingering: NodeJS.Timeout | undefined;
  let halted = false; // the drainer stopped: Skjold is stopping and the store did not answer
  let closed = false;
  let full = false;
  let saving: Promise<void> | undefined;
  const writes = new Set<Promise<void>>();
  const roomWaiters: Array<() => void> = [];
  const idleWaiters: Array<() => void> = [];
  // drained() callers: resolved once the store has accepted everything up to `end`.
  const drainWaiters: Array<{ end: number; resolve: () => void }> = [];

  // Bytes durable and not yet in the store, and bytes appended and waiting for their commit.
  const used = () => log.end() + log.queuedBytes() - checkpoint;

  function updateGauges(): void {
    metrics.spoolBytes.set(log.bytesOnDisk());
    metrics.spoolRecordsPending.set(pending);
    metrics.spoolFull.set(full ? 1 : 0);
    metrics.bufferedPoints.set(pending);
    metrics.backpressure.set(full ? 1 : 0);
  }

  function setFull(value: boolean): void {
    if (value === full) return;
    full = value;
    if (full) {
      logger.warn(
        { bytes: used(), maxBytes, pending },
        'spool full: devices wait for their acknowledgement until the store takes points again',
      );
    } else {
      logger.info({ bytes: used(), maxBytes, pending }, 'spool has room again: acknowledging devices');
    }
    updateGauges();
  }

  function wakeForRoom(): void {
    while (roomWaiters.length > 0 && (closed || used() < maxBytes)) roomWaiters.shift()?.();
    if (roomWaiters.length === 0) setFull(false);
  }

  const unread = () => pending - inFlight.reduce((n, d) => n + d.records, 0);

  /** Starts reading when a full batch is waiting, or once a partial one has waited `maxWaitMs`. */
  function kick(): void {
    if (pumping || halted || inFlight.length >= concurrency || readPos >= log.end()) return;
    if (!closed && unread() < batchPoints) {
      lingering ??= setTimeout(() => {
        lingering = undefined;
        startPump();
      }, maxWaitMs);
      return;
    }
    startPump();
  }

  function startPump(): void {
    if (pumping || halted) return;
    clearTimeout(lingering);
    lingering = undefined;
    pumping = pump()
      .catch((err: unknown) => {
        halted = true;
        logger.error({ err }, 'spool: reading the spool failed; the drainer stopped');
      })
      .finally(() => {
        pumping = undefined;
        kick();
      });
  }

  async function pump(): Promise<void> {
    for (let first = true; ; first = false) {
      if (halted || inFlight.length >= concurrency || readPos >= log.end()) return;
      if (!first && !closed && unread() < batchPoints) return; // kick() decides about partial batches

      const chunk = await log.read(readPos, batchPoints);
      readPos = chunk.next;
      if (chunk.payloads.length === 0) continue; // a gap a truncated segment left
      const drain: Drain = { end: chunk.next, records: chunk.payloads.length, done: false };
      inFlight.push(drain);
      const write = store(chunk.payloads).then((ok) => {
        if (!ok) {
          halted = true;
          return;
        }
        drain.done = true;
        settle();
      });
      writes.add(write);
      void write.finally(() => writes.delete(write));
    }
  }

  /** True when the store took the records (or refused them outright); false when the drainer must stop. */
  async function store(payloads: Buffer[]): Promise<boolean> {
    // Lines are joined into one write body per tenant (one database each): no decoding, one copy.
    const byTenant = new Map<string, Buffer[]>();
    for (const payload of payloads) {
      const r = decodeLine(payload) ?? upgraded(payload);
      if (!r) continue;
      const list = byTenant.get(r.tenantId);
      if (list) list.push(r.line);
      else byTenant.set(r.tenantId, [r.line]);
    }
    const results = await Promise.all(
      [...byTenant].map(([tenantId, lines]) =>
        writer.writeLines(tenantId, joinLines(lines), lines.length).then(
          () => true,
          // A batch the store refuses (malformed) is counted and logged by the
          // writer; retrying it forever would stop every tenant behind it.
          (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_STORE_WRITE'),
        ),
      ),
    );
    return results.every(Boolean);
  }

  /** A record of the JSON format before line protocol, encoded now; undefined if the store could never take it. */
  function upgraded(payload: Buffer): LineRecord | undefined {
    try {
      return decodeLegacy(payload);
    } catch (err) {
      metrics.writeBatches.inc({ outcome: 'rejected' });
      logger.error({ err }, 'spool: a record of the earlier JSON format cannot be written; passed over');
      return undefined;
    }
  }

  /** Moves the checkpoint over every leading batch the store accepted. */
  function settle(): void {
    let records = 0;
    while (inFlight[0]?.done) {
      const drain = inFlight.shift() as Drain;
      drainedPos = drain.end;
      records += drain.records;
    }
    for (let i = drainWaiters.length - 1; i >= 0; i--) {
      const w = drainWaiters[i];
      if (w && w.end <= drainedPos) {
        drainWaiters.splice(i, 1);
        w.resolve();
      }
    }
    if (records > 0) {
      pending -= records;
      const replayed = Math.min(records, toReplay);
      toReplay -= replayed;
      if (replayed > 0) metrics.spoolReplayed.inc(replayed);
      saveCheckpoint();
    }
    updateGauges();
    kick();
  }

  /** Persists `drainedPos`; saves coalesce while one is running. */
  /**
   * The gauges once per burst of sends, not five gauge sets (a new object
   * each in prom-client) per send: a microtask, so they are current before any timer, I/O callback or
   * scrape runs.
   */
  let gaugesQueued = false;
  function updateGaugesSoon(): void {
    if (gaugesQueued) return;
    gaugesQueued = true;
    queueMicrotask(() => {
      gaugesQueued = false;
      updateGauges();
    });
  }

  function saveCheckpoint(): void {
    if (saving) return;
    saving = (async () => {
      while (checkpoint < drainedPos) {
        const position = drainedPos;
        try {
          await writeCheckpoint(dir, position);
          checkpoint = position;
          await log.deleteBefore(checkpoint);
        } catch (err) {
          logger.error({ err }, 'spool: could not persist the checkpoint; retrying');
          if (halted) break; // the next start replays from the last checkpoint that was saved
          await new Promise((r) => setTimeout(r, 1000));
        }
        wakeForRoom();
        updateGauges();
      }
    })().finally(() => {
      saving = undefined;
      if (pending === 0 && inFlight.length === 0) while (idleWaiters.length > 0) idleWaiters.shift()?.();
    });
  }

  /**
   * Encodes the point straight into the log: the drainer sends these bytes as
   * they are. Undefined, with nothing appended, when the spool has no room
   * for it; a record always fits in an empty spool, however small the bound.
   */
  function append(tenantId: string, point: Point): Promise<void> | undefined {
    const inUse = used();
    const room = inUse > 0 ? maxBytes - inUse : Number.POSITIVE_INFINITY;
    return log.appendWith(writeFrame, tenantId, point, room);
  }

  /** Waits until the spool has room for the point (or is closing), then appends it. */
  async function appendWhenRoom(tenantId: string, point: Point): Promise<void> {
    for (;;) {
      await new Promise<void>((r) => {
        roomWaiters.push(r);
        setFull(true);
      });
      if (closed) throw new SkjoldError('SKJOLD_ERR_TRANSPORT_CLOSED');
      const appended = append(tenantId, point);
      if (appended) return appended;
    }
  }

  updateGauges();
  kick();

  return {
    send(tenantId, point) {
      if (closed) return Promise.reject(new SkjoldError('SKJOLD_ERR_TRANSPORT_CLOSED'));
      try {
        // A point line protocol cannot carry is refused now (SKJOLD_ERR_STORE_WRITE),
        // as the store would refuse it, and ingest counts it as such.
        return append(tenantId, point) ?? appendWhenRoom(tenantId, point);
      } catch (err) {
        return Promise.reject(err);
      }
    },

    async close(deadlineMs = 10_000) {
      closed = true;
      wakeForRoom();
      await log.seal();
      let deadline: NodeJS.Timeout | undefined;
      if (pending > 0 && !halted) {
        kick();
        await Promise.race([
          new Promise<void>((r) => idleWaiters.push(r)),
          new Promise<void>((r) => {
            deadline = setTimeout(r, deadlineMs);
          }),
        ]);
      }
      clearTimeout(deadline);
      halted = true;
      // What did not drain stays in the spool for the next start; nobody waits on it now.
      while (drainWaiters.length > 0) drainWaiters.shift()?.resolve();
      clearTimeout(lingering);
      // What is left stays in the spool and is replayed at the next start.
      while (pumping) await pumping;
      await Promise.all(writes);
      while (saving) await saving;
      await log.close();
      await unlock();
    },

    buffered: () => pending,

    drained() {
      const end = log.end();
      if (end <= drainedPos || halted) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push({ end, resolve }));
    },
  };
}
