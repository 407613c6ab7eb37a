import { type Kafka, Partitioners, type PartitionMetadata } from 'kafkajs';
import type { Logger } from '../lib/log.ts';
import type { Job } from './batch-queue.ts';
import { type PackedRecord, packRecords, type QueuedPoint } from './kafka-message.ts';

/** Keys remembered before the memo starts afresh (a fleet's devices, with room for churn). */
const MAX_KEYS = 1_000_000;
/** How often ingest asks Kafka for the topic's partition count. */
const PARTITIONS_REFRESH_MS = 60_000;

/**
 * Places a key on one of `partitions` partitions as kafkajs' default
 * partitioner does — murmur2 of the key modulo the partition count, as the
 * Java client and librdkafka's `murmur2_random` do — remembered per key. A
 * fleet's keys (device pseudonyms) repeat with every reading, and kafkajs
 * computes murmur2 with 64-bit arithmetic emulated in JavaScript (~6 % of the
 * producer's CPU before it was remembered: docs/kafka.md, Throughput). The
 * answer depends only on the key and the count, so the memo starts afresh
 * when the count changes.
 */
export function createKeyPlacer(): (key: string, partitions: number) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const memo = new Map<string, number>();
  let partitionMetadata: PartitionMetadata[] = [];
  return (key, partitions) => {
    if (partitions !== partitionMetadata.length || memo.size >= MAX_KEYS) {
      memo.clear();
      partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [],
        isr: [],
      }));
    }
    let partition = memo.get(key);
    if (partition === undefined) {
      partition = partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
      memo.set(key, partition);
    }
    return partition;
  };
}

/**
 * The topic's partition count, asked of Kafka now and every minute after:
 * ingest places each point on its device's partition itself, to pack a
 * partition's points into one record. Partitions are only ever added, so
 * until the next answer a point goes where it went before.
 */
export async function watchPartitions(kafka: Kafka, topic: string, logger: Logger) {
  const ask = async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics[0]?.partitions.length ?? 0;
      if (partitions === 0) throw new Error(`Kafka reports no partitions for topic ${topic}`);
      return partitions;
    } finally {
      await admin.disconnect();
    }
  };
  let partitions = await ask();
  const timer = setInterval(() => {
    ask().then(
      (n) => {
        if (n !== partitions)
          logger.info({ topic, from: partitions, to: n }, 'topic partition count changed');
        partitions = n;
      },
      (err: unknown) =>
        logger.warn({ topic, err }, 'could not ask Kafka for the partition count; keeping the last'),
    );
  }, PARTITIONS_REFRESH_MS);
  timer.unref();
  return {
    count: () => partitions,
    stop: () => clearInterval(timer),
  };
}

/**
 * Packs ingest's produce requests for `topic` (either producer): each point on
 * its device's partition, by the partition count `watchPartitions` keeps, and
 * a record per partition and tenant (`packRecords`).
 */
export async function createTopicPacker(kafka: Kafka, topic: string, logger: Logger) {
  const partitions = await watchPartitions(kafka, topic, logger);
  const placeKey = createKeyPlacer();
  return {
    pack(batch: Job<QueuedPoint>[]): PackedRecord<Job<QueuedPoint>>[] {
      const count = partitions.count();
      return packRecords(
        batch,
        (j) => j.item,
        (key) => placeKey(key, count),
      );
    },
    stop: partitions.stop,
  };
}
