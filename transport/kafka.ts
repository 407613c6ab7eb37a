import { type Kafka, type Message, Partitioners } from 'kafkajs';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { encodeRecord } from './kafka-message.ts';
import type { Transport } from './transport.ts';

interface Pending {
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Settles (never rejects) when Kafka took the point or refused it. */
  settled: Promise<void>;
}

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
 * its PUBACK. Sends are collected for `lingerMs` (or `batchMessages`) and
 * produced together; one request is in flight at a time and the next batch
 * collects meanwhile, so batches grow with the load. One at a time is also
 * what keeps the idempotent producer's sequence numbers in order: Kafka drops
 * a resent batch it already has, so a retry never duplicates.
 */
export async function createKafkaTransport(options: KafkaTransportOptions): Promise<Transport> {
  const { kafka, topic, metrics, logger, batchMessages, lingerMs, bufferPoints, groupId } = options;
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner, // murmur2 on the key, as Java clients do
    // Retriable errors (leader moved, broker down, timeouts) are retried for as long as it takes:
    // devices wait for their PUBACK meanwhile, as they do when InfluxDB is down on the in-process path.
    retry: { initialRetryTime: 100, maxRetryTime: 5000, retries: Number.MAX_SAFE_INTEGER },
  });
  await producer.connect();

  const queue: Pending[] = [];
  let producing: Pending[] = [];
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const roomWaiters: Array<() => void> = [];
  const idleWaiters: Array<() => void> = [];
  const held = () => queue.length + inFlight;

  function updateGauges(): void {
    metrics.bufferedPoints.set(held());
    metrics.backpressure.set(roomWaiters.length > 0 ? 1 : 0);
  }

  function schedule(): void {
    if (inFlight > 0) return; // the request in flight calls flush when it settles
    if (queue.length >= batchMessages) flush();
    else if (timer === undefined && queue.length > 0) timer = setTimeout(flush, lingerMs);
  }

  function flush(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (inFlight > 0 || queue.length === 0) return;
    void produce(queue.splice(0, batchMessages));
  }

  async function produce(batch: Pending[]): Promise<void> {
    producing = batch;
    inFlight = batch.length;
    updateGauges();
    const end = metrics.kafkaProduceSeconds.startTimer();
    try {
      await producer.send({ topic, acks: -1, messages: batch.map((p) => p.message) });
      end();
      metrics.kafkaProduced.inc({ outcome: 'ok' }, batch.length);
      for (const p of batch) p.resolve();
    } catch (err) {
      // A non-retriable error (too large, not authorised): no PUBACK, and the devices resend.
      metrics.kafkaProduced.inc({ outcome: 'failed' }, batch.length);
      logger.warn({ points: batch.length, err }, 'Kafka did not take a batch; devices will resend');
      const failure = new SkjoldError('SKJOLD_ERR_KAFKA', (err as Error).message, { cause: err });
      for (const p of batch) p.reject(failure);
    }
    inFlight = 0;
    producing = [];
    while (roomWaiters.length > 0 && held() < bufferPoints) roomWaiters.shift()?.();
    updateGauges();
    if (queue.length > 0) flush();
    else while (idleWaiters.length > 0) idleWaiters.shift()?.();
  }

  return {
    async send(tenantId: string, point: Point) {
      while (!closed && held() >= bufferPoints) {
        await new Promise<void>((r) => {
          roomWaiters.push(r);
          updateGauges();
        });
      }
      if (closed) throw new SkjoldError('SKJOLD_ERR_TRANSPORT_CLOSED');
      const message = encodeRecord(tenantId, point);
      const { promise: produced, resolve, reject } = Promise.withResolvers<void>();
      queue.push({ message, resolve, reject, settled: produced.catch(() => {}) });
      schedule();
      return produced;
    },

    async close(deadlineMs = 10_000) {
      closed = true;
      while (roomWaiters.length > 0) roomWaiters.shift()?.();
      flush();
      if (held() > 0) {
        let deadline: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((r) => idleWaiters.push(r)),
          new Promise<void>((r) => {
            deadline = setTimeout(r, deadlineMs);
          }),
        ]);
        clearTimeout(deadline);
      }
      for (const p of queue.splice(0)) p.reject(new SkjoldError('SKJOLD_ERR_TRANSPORT_CLOSED'));
      await producer.disconnect();
    },

    buffered: held,

    /**
     * Every point sent before the call is on Kafka, and the store writers'
     * group has committed past it: committed offsets reach the end offsets
     * Kafka reported after those points were produced.
     */
    async drained() {
      await Promise.all([...queue, ...producing].map((p) => p.settled));
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
