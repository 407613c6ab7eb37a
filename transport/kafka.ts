import { type Kafka, Partitioners } from 'kafkajs';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { createBatchQueue, type Job } from './batch-queue.ts';
import { waitForGroup } from './kafka-group.ts';
import { type PackedRecord, type QueuedPoint, queuePoint } from './kafka-message.ts';
import { createTopicPacker } from './kafka-partitioner.ts';
import type { Transport } from './transport.ts';

/** Sends of the records a send's answer left out, before the batch fails (no PUBACK; devices resend). */
const UNANSWERED_RESENDS = 10;

export interface KafkaTransportOptions {
  kafka: Kafka;
  topic: string;
  metrics: Metrics;
  logger: Logger;
  /** Most points in one produce request (packed into a record per partition and tenant). */
  batchMessages: number;
  /** A produce request waits this long for more points. */
  lingerMs: number;
  /** Points held (queued + being produced) before `send` makes callers wait. */
  bufferPoints: number;
  /** The store writers' consumer group: `drained()` waits for its committed offsets. */
  groupId: string;
  /** How often `drained()` asks Kafka for the group's offsets. */
  drainPollMs?: number;
}

/**
 * Ingest's side of the Kafka transport: `send` resolves when Kafka has the
 * point on every in-sync replica (acks=all), and only then does the device get
 * its PUBACK. Sends are collected for `lingerMs` (or up to `batchMessages`)
 * and produced together, packed into a record per partition and tenant
 * (kafka-message.ts); one request is in flight at a time, and after it the
 * next batch collects for `lingerMs` again, so a request carries at least
 * that long's points however fast the round trip. One at a time is also what
 * keeps the idempotent producer's sequence numbers in order: Kafka drops a
 * resent batch it already has, so a retry never duplicates.
 */
export async function createKafkaTransport(options: KafkaTransportOptions): Promise<Transport> {
  const { kafka, topic, metrics, logger, batchMessages, lingerMs, bufferPoints, groupId } = options;
  const packer = await createTopicPacker(kafka, topic, logger);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Every record names its partition (createTopicPacker), which this partitioner keeps.
    createPartitioner: Partitioners.DefaultPartitioner,
    // Retriable errors (leader moved, broker down, timeouts) are retried for as long as it takes:
    // devices wait for their PUBACK meanwhile, as they do when InfluxDB is down on the in-process path.
    retry: { initialRetryTime: 100, maxRetryTime: 5000, retries: Number.MAX_SAFE_INTEGER },
  });
  await producer.connect().catch((err: unknown) => {
    packer.stop();
    throw err;
  });

  /**
   * Sends until Kafka has answered for every partition the records went to.
   * kafkajs 2.2.4 (producer/sendMessages.js) keeps, across the retries of one
   * send, the answer of each broker that took its part, and sends again only
   * to brokers without one. When a partition's leader moves to a broker that
   * already answered, that partition's records are never sent, yet the send
   * resolves — and the idempotent sequence was rolled back, so the next batch
   * takes their place without an error. A partition missing from the answer
   * is therefore sent again; were its records written after all, the idempotent
   * producer's sequence (or the point identity in InfluxDB) makes that harmless.
   */
  async function sendAll(records: PackedRecord<unknown>[]): Promise<void> {
    let pending = records;
    for (let attempt = 1; ; attempt++) {
      const messages = pending.map((r) => ({ partition: r.partition, value: r.value }));
      const answered = new Set((await producer.send({ topic, acks: -1, messages })).map((r) => r.partition));
      const missed = pending.filter((r) => !answered.has(r.partition));
      if (missed.length === 0) return;
      const points = missed.reduce((n, r) => n + r.jobs.length, 0);
      if (attempt >= UNANSWERED_RESENDS) {
        throw new Error(`Kafka did not answer for ${points} points after ${attempt} sends`);
      }
      logger.warn(
        { points, partitions: [...new Set(missed.map((r) => r.partition))] },
        'Kafka answered a send without some of its partitions (a leader moved); sending those again',
      );
      pending = missed;
    }
  }

  async function produce(batch: Job<QueuedPoint>[]): Promise<void> {
    const end = metrics.kafkaProduceSeconds.startTimer();
    try {
      await sendAll(packer.pack(batch));
      end();
      metrics.kafkaProduced.inc({ outcome: 'ok' }, batch.length);
      for (const j of batch) j.resolve();
    } catch (err) {
      // A non-retriable error (too large, not authorised): no PUBACK, and the devices resend.
      metrics.kafkaProduced.inc({ outcome: 'failed' }, batch.length);
      logger.warn({ points: batch.length, err }, 'Kafka did not take a batch; devices will resend');
      const failure = new SkjoldError('SKJOLD_ERR_KAFKA', (err as Error).message, { cause: err });
      for (const j of batch) j.reject(failure);
    }
  }

  const queue = createBatchQueue<QueuedPoint>({
    flush: produce,
    batchSize: batchMessages,
    maxWaitMs: lingerMs,
    bufferItems: bufferPoints,
    concurrency: 1,
    gauges: metrics,
  });

  return {
    send: (tenantId: string, point: Point) => queue.push(queuePoint(tenantId, point)),

    async close(deadlineMs = 10_000) {
      packer.stop();
      await queue.close(deadlineMs);
      await producer.disconnect();
    },

    buffered: queue.held,

    /**
     * Every point sent before the call is on Kafka, and the store writers'
     * group has committed past it: committed offsets reach the end offsets
     * Kafka reported after those points were produced.
     */
    async drained() {
      await queue.settled();
      await waitForGroup(kafka, topic, groupId, options.drainPollMs ?? 200);
    },
  };
}
