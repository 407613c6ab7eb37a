import { type ICustomPartitioner, Partitioners } from 'kafkajs';

/** Keys remembered before the memo starts afresh (a fleet's devices, with room for churn). */
const MAX_KEYS = 1_000_000;

/**
 * kafkajs' default partitioner — murmur2 of the key modulo the topic's
 * partition count, as the Java client does, so a device's points land where
 * any other Kafka client would put them — remembered per key. A fleet's keys
 * (device pseudonyms) repeat with every reading, and kafkajs recomputes
 * murmur2 with 64-bit arithmetic emulated in JavaScript, after filtering the
 * partition list, for every message: ~6 % of the producer's CPU
 * (docs/kafka.md, Throughput). The answer depends only on the key and the
 * partition count, so the memo is reset when the count changes.
 */
export const memoKeyPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const memo = new Map<string, number>();
  let partitions = -1;
  return (args) => {
    const { message, partitionMetadata } = args;
    if (typeof message.key !== 'string' || (message.partition !== undefined && message.partition !== null)) {
      return partitioner(args);
    }
    if (partitionMetadata.length !== partitions || memo.size >= MAX_KEYS) {
      memo.clear();
      partitions = partitionMetadata.length;
    }
    let partition = memo.get(message.key);
    if (partition === undefined) {
      partition = partitioner(args);
      memo.set(message.key, partition);
    }
    return partition;
  };
};
