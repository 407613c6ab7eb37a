/**
 * The leak test on the Kafka path: besides InfluxDB, logs, /metrics and the
 * registry, every record on the topic is read back and searched.
 */
import { Kafka, logLevel } from 'kafkajs';
import { waitUntil } from '../../lib/process/server-process.ts';
import { startKafkaStack } from '../harness/kafka-stack.ts';
import { defineLeakTests, type LeakStack } from './leak-suite.ts';

/** Every record on the topic, key and value as text, read with a group of its own from the beginning. */
async function topicRecords(bootstrap: string[], topic: string): Promise<string[]> {
  const kafka = new Kafka({ brokers: bootstrap, clientId: 'leak-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
  const records: string[] = [];
  const consumer = kafka.consumer({ groupId: `leak-test-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      records.push(`${message.key?.toString() ?? ''} ${message.value?.toString() ?? ''}`);
      if (BigInt(message.offset) + 1n >= (remaining.get(partition) ?? 0n)) remaining.delete(partition);
    },
  });
  for (const [partition, high] of remaining) if (high === 0n) remaining.delete(partition);
  await waitUntil(async () => remaining.size === 0, { what: 'the whole topic read', timeoutMs: 60_000 });
  await consumer.disconnect();
  return records;
}

defineLeakTests(async (): Promise<LeakStack> => {
  const stack = await startKafkaStack();
  return {
    ...stack,
    async extraPlaces() {
      const records = await topicRecords(stack.kafka.brokers, stack.topic);
      if (records.length === 0) throw new Error('the topic is empty: nothing went through Kafka');
      return new Map(records.map((r, i) => [`Kafka record ${i} on ${stack.topic}`, r]));
    },
  };
});
