import '../test/harness/kafkajs-mock-controller.ts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { loadConfig } from '../lib/config.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { createMetrics, type Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { encodePoint } from '../store/line-protocol.ts';
import { type KafkaMock, startKafkaMock } from '../test/harness/kafka-mock.ts';
import { createKafkaClient, createProducerTransport } from './kafka-client.ts';
import { encodeRecord } from './kafka-message.ts';
import { startKafkaWriter } from './kafka-writer.ts';
import { writeLineRecord } from './line-record.ts';
import type { LineWriter } from './store-writer.ts';
import { recordingWriter, transportContract } from './transport.contract.ts';

/**
 * The Kafka transport against librdkafka's mock cluster, through the same
 * contract as the in-process one: ingest's producer (kafkajs, and librdkafka
 * for SKJOLD_KAFKA_PRODUCER=rdkafka) on one side, a consumer-group writer on
 * the other, a recording store writer behind it.
 */
let mock: KafkaMock;
before(async () => {
  mock = await startKafkaMock({ brokers: 3 });
});
after(async () => {
  await mock.stop();
});

let topics = 0;

/** A consumer-group writer for `topic`, storing through `writer`. */
const startWriter = (kafka: Kafka, topic: string, writer: LineWriter, metrics: Metrics, logger: Logger) =>
  startKafkaWriter({
    kafka,
    topic,
    groupId: `${topic}-writers`,
    writer,
    metrics,
    logger,
    refusedRetryMs: 100,
    batchPoints: 500,
    bufferPoints: 5000,
  });
for (const producer of ['kafkajs', 'rdkafka'] as const) {
  transportContract(
    producer === 'kafkajs' ? 'kafka' : 'kafka (librdkafka producer)',
    async (writer, bufferPoints) => {
      const topic = `contract-${producer}-${++topics}`;
      await mock.createTopic(topic, 4, 3);
      const logger = createLogger('silent');
      const metrics = createMetrics({ defaultMetrics: false });
      const config = loadConfig({
        SKJOLD_TRANSPORT: 'kafka',
        SKJOLD_KAFKA_BROKERS: mock.bootstrap,
        SKJOLD_KAFKA_PRODUCER: producer,
      });
      const kafka = createKafkaClient(config, logger);
      const consumer = await startWriter(kafka, topic, writer, metrics, logger);
      const transport = await createProducerTransport(config, {
        kafka,
        topic,
        metrics,
        logger,
        batchMessages: 500,
        lingerMs: 2,
        bufferPoints,
        groupId: `${topic}-writers`,
      });
      return { transport, bufferPoints, stop: () => consumer.stop() };
    },
  );
}

test('a topic holding records of the earlier formats (JSON, a line record a point) and packed records drains in full, every point as its line', async () => {
  const topic = `upgrade-${++topics}`;
  await mock.createTopic(topic, 2, 3);
  const logger = createLogger('silent');
  const metrics = createMetrics({ defaultMetrics: false });
  const config = loadConfig({ SKJOLD_TRANSPORT: 'kafka', SKJOLD_KAFKA_BROKERS: mock.bootstrap });
  const kafka = createKafkaClient(config, logger);
  const point = (i: number): Point => ({
    measurement: 'heat_meter',
    tags: { tenant: 'acme', device: `v1.meter${i % 5}` },
    fields: { seq: i, energy_kwh: 1000 + i / 8, note: `"n" ${i}` },
    integerFields: ['seq'],
    timestampMs: 1_796_000_000_000 + i,
  });
  // What the versions before packed records put on the topic (JSON, then a line record a point), then what this one does.
  const json = (i: number) => {
    const p = point(i);
    const value = {
      v: 1,
      tenant: 'acme',
      m: p.measurement,
      tags: p.tags,
      fields: p.fields,
      int: p.integerFields,
      ts: p.timestampMs,
    };
    return { key: p.tags.device, value: JSON.stringify(value) };
  };
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: Array.from({ length: 200 }, (_, i) => json(i)) });
  const buf = Buffer.alloc(4096);
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: 200 }, (_, i) => ({
      key: `v1.meter${i % 5}`,
      value: Buffer.from(buf.subarray(0, writeLineRecord(buf, 0, 'acme', point(200 + i)))),
    })),
  });
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: 20 }, (_, r) => ({
      value: encodeRecord(
        'acme',
        Array.from({ length: 10 }, (_, i) => point(400 + r * 10 + i)),
      ),
    })),
  });
  await producer.disconnect();

  const { writer, delivered } = recordingWriter();
  const consumer = await startWriter(kafka, topic, writer, metrics, logger);
  try {
    const deadline = Date.now() + 30_000;
    while (delivered.length < 600 && Date.now() < deadline) await delay(20);
    assert.equal(delivered.length, 600);
    const lines = new Set(delivered.map((d) => `${d.tenantId} ${d.line}`));
    for (let i = 0; i < 600; i++) assert.ok(lines.has(`acme ${encodePoint(point(i))}`), `point ${i}`);
    const { values } = await metrics.kafkaConsumed.get();
    assert.equal(values.find((v) => v.labels.outcome === 'undecodable')?.value ?? 0, 0);
  } finally {
    await consumer.stop();
  }
});
