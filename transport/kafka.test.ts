import '../test/harness/kafkajs-mock-controller.ts';
import { after, before } from 'node:test';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { createMetrics } from '../lib/metrics.ts';
import { type KafkaMock, startKafkaMock } from '../test/harness/kafka-mock.ts';
import { createKafkaClient, createProducerTransport } from './kafka-client.ts';
import { startKafkaWriter } from './kafka-writer.ts';
import { transportContract } from './transport.contract.ts';

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
