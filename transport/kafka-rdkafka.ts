import type { LibrdKafkaError, Producer, ProducerGlobalConfig } from 'node-rdkafka';
import { SkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { createBatchQueue, type Job } from './batch-queue.ts';
import type { KafkaTransportOptions } from './kafka.ts';
import { waitForGroup } from './kafka-group.ts';
import { type PackedRecord, type QueuedPoint, queuePoint } from './kafka-message.ts';
import { createTopicPacker } from './kafka-partitioner.ts';
import type { Transport } from './transport.ts';

/** librdkafka's code for a full local queue (RD_KAFKA_RESP_ERR__QUEUE_FULL). */
const ERR_QUEUE_FULL = -184;
/** How long a send waits before offering a point to a full local queue again (it is sized never to be). */
const QUEUE_FULL_RETRY_MS = 5;
/** How often librdkafka is polled for delivery reports: what a PUBACK may wait beyond Kafka's answer. */
const POLL_MS = 2;
/** Batches handed to librdkafka at once; it makes its own record batches per partition from them. */
const HANDOFFS = 8;

/** The kafkajs transport's options (`kafka` serves `drained()`'s admin requests), and librdkafka's connection. */
export interface RdkafkaTransportOptions extends KafkaTransportOptions {
  /** librdkafka's settings for the brokers, TLS and SASL (from the config: kafka-client.ts). */
  connection: ProducerGlobalConfig;
}

/** node-rdkafka is a native addon, built at setup against Debian's librdkafka; loaded only when chosen. */
async function loadRdkafka(): Promise<typeof import('node-rdkafka')> {
  try {
    const mod = (await import('node-rdkafka')) as typeof import('node-rdkafka') & {
      default?: typeof import('node-rdkafka');
    };
    return mod.default ?? mod;
  } catch (err) {
    throw new SkjoldError(
      'SKJOLD_ERR_CONFIG',
      'SKJOLD_KAFKA_PRODUCER=rdkafka needs the node-rdkafka addon built against librdkafka ' +
        `(scripts/setup.sh builds it), or set SKJOLD_KAFKA_PRODUCER=kafkajs: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Ingest's side of the Kafka transport on librdkafka (node-rdkafka), with the
 * guarantees of the kafkajs one: `send` resolves when Kafka has the point on
 * every in-sync replica (acks=all) and only then does the device get its
 * PUBACK; the producer is idempotent, so librdkafka's retries never duplicate
 * or reorder a partition's records; retriable errors are retried for as long
 * as it takes (no message timeout), so devices wait while Kafka is away, as
 * they do while InfluxDB is down on the in-process path.
 *
 * The bound and the waiting for room are the batching queue's, shared with
 * the other transports; each batch is packed into a record per partition and
 * tenant, as the kafkajs transport packs it (kafka-message.ts), and handed to
 * librdkafka, which makes record batches per partition and sends them from its
 * own threads; the batch settles as its records' delivery reports come back.
 */
export async function createRdkafkaTransport(options: RdkafkaTransportOptions): Promise<Transport> {
  const { topic, metrics, logger, batchMessages, lingerMs, bufferPoints, groupId } = options;
  const rdkafka = await loadRdkafka();
  const packer = await createTopicPacker(options.kafka, topic, logger);
  const producer: Producer = new rdkafka.Producer(
    {
      ...options.connection,
      'enable.idempotence': true,
      'linger.ms': lingerMs,
      'batch.num.messages': batchMessages,
      // Never the limit: the queue below holds at most bufferPoints.
      'queue.buffering.max.messages': bufferPoints + batchMessages * HANDOFFS,
      'queue.buffering.max.kbytes': 2 * 1024 * 1024,
      dr_cb: true,
      event_cb: true,
    },
    { acks: -1, 'message.timeout.ms': 0 },
  );
  producer.on('event.error', (err: LibrdKafkaError) => {
    logger.warn({ code: err.code, err: err.message }, 'librdkafka reported an error; it retries');
  });
  await new Promise<void>((resolve, reject) => {
    producer.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve()));
  }).catch((err: unknown) => {
    packer.stop();
    throw err;
  });
  producer.setPollInterval(POLL_MS);

  /** A batch handed to librdkafka: its points' outcomes are counted once all its records have them. */
  interface Handoff {
    sent: number;
    open: number;
    ok: number;
    failed: number;
    /** The first refusal's message, logged once for the batch. */
    error?: string;
    settled: () => void;
  }
  interface Pending {
    record: PackedRecord<Job<QueuedPoint>>;
    batch: Handoff;
  }
  function done(p: Pending, ok: boolean): void {
    const b = p.batch;
    if (ok) b.ok += p.record.jobs.length;
    else b.failed += p.record.jobs.length;
    if (--b.open > 0) return;
    if (b.ok > 0) {
      metrics.kafkaProduced.inc({ outcome: 'ok' }, b.ok);
      metrics.kafkaProduceSeconds.observe((performance.now() - b.sent) / 1000);
    }
    if (b.failed > 0) {
      metrics.kafkaProduced.inc({ outcome: 'failed' }, b.failed);
      if (b.error !== undefined) {
        logger.warn(
          { points: b.failed, err: b.error },
          'Kafka did not take some points; their devices will resend',
        );
      }
    }
    b.settled();
  }
  /** Handed to librdkafka, no delivery report yet. */
  const outstanding = new Set<Pending>();
  producer.on('delivery-report', (err, report) => {
    const p = report.opaque as Pending;
    if (!outstanding.delete(p)) return; // given up on at close
    if (err) {
      p.batch.error ??= err.message;
      const failure = new SkjoldError('SKJOLD_ERR_KAFKA', err.message, { cause: err });
      for (const job of p.record.jobs) job.reject(failure);
    } else {
      for (const job of p.record.jobs) job.resolve();
    }
    done(p, !err);
  });

  function produce(p: Pending): void {
    if (!outstanding.has(p)) return; // given up on at close while it waited for room
    try {
      producer.produce(topic, p.record.partition, p.record.value, null, null, p);
    } catch (err) {
      if ((err as LibrdKafkaError).code === ERR_QUEUE_FULL) {
        setTimeout(() => produce(p), QUEUE_FULL_RETRY_MS);
        return;
      }
      // Refused outright (too large, unknown topic): no PUBACK, and the device resends.
      outstanding.delete(p);
      p.batch.error ??= (err as Error).message;
      const failure = new SkjoldError('SKJOLD_ERR_KAFKA', (err as Error).message, { cause: err });
      for (const job of p.record.jobs) job.reject(failure);
      done(p, false);
    }
  }

  const queue = createBatchQueue<QueuedPoint>({
    flush: (batch) =>
      new Promise<void>((settled) => {
        const records = packer.pack(batch);
        const handoff: Handoff = { sent: performance.now(), open: records.length, ok: 0, failed: 0, settled };
        for (const record of records) {
          const p = { record, batch: handoff };
          outstanding.add(p);
          produce(p);
        }
      }),
    batchSize: batchMessages,
    // librdkafka lingers; the queue only bounds what is held and hands it over at once.
    maxWaitMs: 0,
    bufferItems: bufferPoints,
    concurrency: HANDOFFS,
    gauges: metrics,
  });

  return {
    send(tenantId: string, point: Point) {
      return queue.push(queuePoint(tenantId, point));
    },

    async close(deadlineMs = 10_000) {
      packer.stop();
      await queue.close(deadlineMs);
      // Kafka did not answer for these by the deadline: not acknowledged, so their devices resend.
      for (const p of outstanding) {
        const closed = new SkjoldError('SKJOLD_ERR_TRANSPORT_CLOSED');
        for (const job of p.record.jobs) job.reject(closed);
        done(p, false);
      }
      outstanding.clear();
      await new Promise<void>((resolve) => {
        producer.disconnect(5_000, () => resolve());
      });
    },

    buffered: queue.held,

    async drained() {
      await queue.settled();
      await waitForGroup(options.kafka, topic, groupId, options.drainPollMs ?? 200);
    },
  };
}
