import type { EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../lib/log.ts';
import { createMetrics, type Metrics } from '../lib/metrics.ts';
import { joinLines } from '../store/line-protocol.ts';
import { createBatchQueue, flushPerTenant } from './batch-queue.ts';
import { decodeRecord } from './kafka-message.ts';
import { createOffsetGapDetector } from './kafka-offset-gaps.ts';
import type { LineRecord } from './line-record.ts';
import type { LineWriter } from './store-writer.ts';

export interface KafkaWriterOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  /** Writes a tenant's lines to the store, retrying while the store is down. */
  writer: LineWriter;
  metrics: Metrics;
  logger: Logger;
  /** Wait between attempts at a batch the store refused outright, in ms. */
  refusedRetryMs: number;
  /** Points per store write, pooled across partitions. */
  batchPoints: number;
  /** Points held for the store before fetching waits. */
  bufferPoints: number;
  /** Partitions processed at once by this writer. */
  concurrency?: number;
}

const HEARTBEAT_MS = 3000;
/**
 * The partitions of one fetch are handed over together; a few ms gathers them into one
 * store write. Longer only delays the next fetch, which waits for this one's commit.
 */
const GATHER_MS = 5;
/** A fetch at the end of the log returns after this long at most, data or not: the floor of the writer's latency. */
const FETCH_WAIT_MS = 100;

/**
 * The store side of the Kafka transport: a member of the writers' consumer
 * group that writes each fetched batch to InfluxDB through the store writer
 * and commits the offsets only after InfluxDB accepted all of it. A writer
 * that dies before its commit leaves the batch to the next one, which writes
 * it again: a point's identity in InfluxDB is measurement, tags and device
 * timestamp, so the rewrite overwrites itself (at-least-once, no duplicates
 * in the store).
 */
export async function startKafkaWriter(options: KafkaWriterOptions) {
  const { kafka, topic, groupId, writer, metrics, logger } = options;
  let stopping = false;
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000, // a writer that stalls is replaced within seconds
    heartbeatInterval: HEARTBEAT_MS,
    maxWaitTimeInMs: FETCH_WAIT_MS,
  });
  const admin = kafka.admin();
  await admin.connect();
  const gaps = createOffsetGapDetector({ admin, consumer, topic, groupId, metrics, logger });
  consumer.on(consumer.events.GROUP_JOIN, () => gaps.assigned());

  // Batches from all partitions this writer holds are pooled into store writes of up to
  // `batchPoints`, two at a time: one partition's fetch is often only a few dozen points.
  const pool = createBatchQueue<LineRecord>({
    // One store write per tenant in the batch, its lines joined as they came: nothing is decoded or re-encoded.
    flush: (batch) =>
      flushPerTenant(batch, (tenantId, records) =>
        writer.writeLines(tenantId, joinLines(records.map((r) => r.line)), records.length),
      ),
    batchSize: options.batchPoints,
    maxWaitMs: GATHER_MS,
    bufferItems: options.bufferPoints,
    concurrency: 2,
    gauges: createMetrics({ defaultMetrics: false }), // its gauges would read as ingest's
  });

  /** Stores one partition's points, however long it takes (or until this writer stops: no commit then). */
  async function store(records: LineRecord[], where: Record<string, unknown>) {
    let pending = records;
    while (pending.length > 0) {
      const failed: typeof pending = [];
      let cause: unknown;
      await Promise.all(
        pending.map((r) =>
          pool.push(r).catch((err: unknown) => {
            failed.push(r);
            cause = err;
          }),
        ),
      );
      if (failed.length === 0) return;
      if (stopping) throw cause;
      // A batch InfluxDB refuses (permission, field type conflict) holds its partition rather
      // than being skipped: the points were acknowledged to devices and must not vanish.
      logger.error(
        { ...where, points: failed.length, retryInMs: options.refusedRetryMs, err: cause },
        'store refused points from Kafka; their partition waits',
      );
      await new Promise((r) => setTimeout(r, options.refusedRetryMs));
      pending = failed;
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, resolveOffset, isRunning, isStale } = payload;
    if (batch.messages.length === 0) return;
    const records: LineRecord[] = [];
    let undecodable = 0;
    for (const message of batch.messages) {
      const lines = decodeRecord(message.value);
      if (lines) for (const line of lines) records.push(line);
      else undecodable++;
    }
    const first = batch.firstOffset();
    const where = { partition: batch.partition, offsets: `${first}-${batch.lastOffset()}` };
    if (first !== null) await gaps.check(batch.partition, first);
    if (undecodable > 0) {
      metrics.kafkaConsumed.inc({ outcome: 'undecodable' }, undecodable);
      logger.error(
        { ...where, records: undecodable },
        'records on the topic that Skjold did not write; skipped',
      );
    }
    // The group coordinator must hear from us while InfluxDB is down and the store writer retries.
    const beat = setInterval(() => void heartbeat().catch(() => {}), HEARTBEAT_MS);
    try {
      await store(records, where);
    } finally {
      clearInterval(beat);
    }
    metrics.kafkaConsumed.inc({ outcome: 'stored' }, records.length);
    if (!isRunning() || isStale()) return; // reassigned meanwhile: the new owner writes it again, harmlessly
    const last = batch.lastOffset();
    resolveOffset(last);
    gaps.stored(batch.partition, BigInt(last) + 1n);
    try {
      await consumer.commitOffsets([
        { topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
      ]);
    } catch (err) {
      // The group rebalanced under us (a member came or went, a leader moved): whoever owns the
      // partition now starts from the last commit and writes this batch again, harmlessly.
      logger.warn({ ...where, err }, 'offsets not committed; the batch will be written again');
    }
  }

  async function run(): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.concurrency ?? 16,
      eachBatch,
    });
  }

  // kafkajs restarts a consumer after retriable errors only; a writer must not stop on the others.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (stopping || payload.restart) return;
    logger.error({ err: payload.error }, 'store writer crashed; rejoining the group');
    setTimeout(() => {
      if (stopping) return;
      consumer
        .disconnect()
        .then(run)
        .catch((err: unknown) => logger.error({ err }, 'store writer could not rejoin the group'));
    }, 1000);
  });

  await run();
  logger.info({ topic, group: groupId }, 'store writer consuming');

  return {
    /** Leaves the group; a batch being written is not committed and will be written again by another writer. */
    async stop(): Promise<void> {
      stopping = true;
      await consumer.disconnect();
      await admin.disconnect();
      await pool.close(0);
    },
  };
}

export type KafkaWriter = Awaited<ReturnType<typeof startKafkaWriter>>;
