import '../test/harness/kafkajs-mock-controller.ts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { createMetrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { type KafkaMock, startKafkaMock } from '../test/harness/kafka-mock.ts';
import { createKafkaTransport } from './kafka.ts';
import { createKafkaClient } from './kafka-client.ts';
import type { Transport } from './transport.ts';

/**
 * A send whose partitions span two brokers, one of which answers "not the
 * leader" because the partition moved to the other: every record is on the
 * topic when the send resolves. kafkajs 2.2.4 alone resolves such a send
 * without ever writing the moved partition's records (transport/kafka.ts).
 */
let mock: KafkaMock;
let transport: Transport | undefined;
before(async () => {
  mock = await startKafkaMock({ brokers: 3 });
});
after(async () => {
  await transport?.close();
  await mock?.stop();
});

const point = (device: number, n: number): Point => ({
  measurement: 'building_sensor',
  tags: { tenant: 'moving', device: `v1.device-${device}` },
  fields: { seq: n },
  integerFields: ['seq'],
  timestampMs: 1_700_000_000_000 + n,
});

async function highs(topic: string): Promise<number[]> {
  const admin = new Kafka({ brokers: mock.brokers, clientId: 'test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
  } finally {
    await admin.disconnect();
  }
}

test('a partition leader moved to the broker that answered for the others: the send still writes every record', async () => {
  const topic = 'moving';
  await mock.createTopic(topic, 2, 3);
  await mock.setLeader(topic, 0, 1);
  await mock.setLeader(topic, 1, 2);
  const logs: Array<{ level: number; msg: string }> = [];
  const logger = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line)) });
  const kafka = createKafkaClient(
    loadConfig({ SKJOLD_TRANSPORT: 'kafka', SKJOLD_KAFKA_BROKERS: mock.bootstrap }),
    createLogger('silent'),
  );
  transport = await createKafkaTransport({
    kafka,
    topic,
    metrics: createMetrics({ defaultMetrics: false }),
    logger,
    batchMessages: 1000,
    lingerMs: 20, // the 20 sends of a round go out in one request, to both leaders
    bufferPoints: 1000,
    groupId: 'no-writers',
  });
  const round = (n: number) =>
    Promise.all(Array.from({ length: 20 }, (_, d) => transport?.send('moving', point(d, n * 100 + d))));

  await round(0);
  const first = await highs(topic);
  assert.ok(
    first.every((h) => h > 0),
    `both partitions, so both brokers, in one request: ${first}`,
  );

  await mock.setLeader(topic, 1, 1);
  await round(1);
  assert.deepEqual(
    await highs(topic),
    first.map((h) => 2 * h),
    'every record of the second round is on the topic',
  );
  assert.ok(
    logs.some((l) => l.msg.startsWith('Kafka answered a send without some of its partitions')),
    'the send after the move was answered without the moved partition',
  );
});
