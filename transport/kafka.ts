import type { Kafka, Message } from 'kafkajs';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { createBatchQueue, type Job } from './batch-queue.ts';
import { encodeRecord } from './kafka-message.ts';
import { memoKeyPartitioner } from './kafka-partitioner.ts';
import type { Transport } from './transport.ts';

export interface KafkaTransportOptions {
  kafka: Kafka;
  topic: string;
  metrics: Metrics;
  logger: Logger;
  /** Most points in one produce request. */
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
 * and produced together; one request is in flight at a time, and after it the
 * next batch collects for `lingerMs` again, so a request carries at least
 * that long's points however fast the round trip. One at a time is also what
 * keeps the idempotent producer's sequence numbers in order: Kafka drops a
 * resent batch it already has, so a retry never duplicates.
 */
export async function createKafkaTransport(options: KafkaTransportOptions): Promise<Transport> {
  const { kafka, topic, metrics, logger, batchMessages, lingerMs, bufferPoints, groupId } = options;
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: memoKeyPartitioner, // murmur2 on the key, as Java clients do, remembered per device
    // Retriable errors (leader moved, broker down, timeouts) are retried for as long as it takes:
    // devices wait for their PUBACK meanwhile, as they do when InfluxDB is down on the in-process path.
    retry: { initialRetryTime: 100, maxRetryTime: 5000, retries: Number.MAX_SAFE_INTEGER },
  });
  await producer.connect();

  async function produce(batch: Job<Message>[]): Promise<void> {
    const end = metrics.kafkaProduceSeconds.startTimer();
    try {
      await producer.send({ topic, acks: -1, messages: batch.map((j) => j.item) });
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

  const queue = createBatchQueue<Message>({
    flush: produce,
    batchSize: batchMessages,
    maxWaitMs: lingerMs,
    bufferItems: bufferPoints,
    concurrency: 1,
    gauges: metrics,
  });

  return {
    send: (tenantId: string, point: Point) => queue.push(encodeRecord(tenantId, point)),

    async close(deadlineMs = 10_000) {
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
      const admin = kafka.admin();
      await admin.connect();
      try {
        const ends = await admin.fetchTopicOffsets(topic);
        for (;;) {
          const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
          const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
          const behind = ends.some(
            (e) => BigInt(e.high) > 0n && (at.get(e.partition) ?? -1n) < BigInt(e.high),
          );
          if (!behind) return;
          await new Promise((r) => setTimeout(r, options.drainPollMs ?? 200));
        }
      } finally {
        await admin.disconnect();
      }
    },
  };
}
