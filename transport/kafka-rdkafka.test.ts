import '../test/harness/kafkajs-mock-controller.ts';
import { after, before } from 'node:test';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { createMetrics } from '../lib/metrics.ts';
import { type KafkaMock, startKafkaMock } from '../test/harness/kafka-mock.ts';
import { createKafkaClient } from './kafka-client.ts';
import { createRdkafkaTransport, rdkafkaConnection } from './kafka-rdkafka.ts';
import { startKafkaWriter } from './kafka-writer.ts';
import { transportContract } from './transport.contract.ts';

/**
 * Ingest's librdkafka producer against librdkafka's mock cluster, through the
 * same contract as the in-process and kafkajs transports, with the same
 * consumer-group writer and recording store writer behind it.
 */
let mock: KafkaMock;
before(async () => {
  mock = await startKafkaMock({ brokers: 3 });
});
after(async () => {
  await mock.stop();
});

let topics = 0;
transportContract('kafka (librdkafka producer)', async (writer, bufferPoints) => {
  const topic = `rdkafka-contract-${++topics}`;
  await mock.createTopic(topic, 4, 3);
  const logger = createLogger('silent');
  const metrics = createMetrics({ defaultMetrics: false });
  const kafka = createKafkaClient(
    loadConfig({ SKJOLD_TRANSPORT: 'kafka', SKJOLD_KAFKA_BROKERS: mock.bootstrap }),
    logger,
  );
  const consumer = await startKafkaWriter({
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
  const transport = await createRdkafkaTransport({
    connection: rdkafkaConnection({ brokers: [mock.bootstrap], clientId: 'contract', ssl: false }),
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
});
