import type { Config } from '../lib/config.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import { createKafkaClient, createProducerTransport } from '../transport/kafka-client.ts';
import { ensureTopic } from '../transport/kafka-topic.ts';
import { type KafkaWriter, startKafkaWriter } from '../transport/kafka-writer.ts';
import type { LineWriter } from '../transport/store-writer.ts';

/**
 * The Kafka transport from the config: ingest's producer and, for whoever
 * runs one (`skjold start` with SKJOLD_KAFKA_WRITER=on, `skjold writer`), a
 * store writer in the consumer group. The topic is created when missing, with
 * a bounded retention, and an existing one must have one (transport/kafka-topic.ts).
 */
export async function createKafkaPipeline(config: Config, deps: { metrics: Metrics; logger: Logger }) {
  const logger = deps.logger.child({ component: 'kafka' });
  const kafka = createKafkaClient(config, logger);
  await ensureTopic(kafka, config, logger);
  return {
    createTransport: () =>
      createProducerTransport(config, {
        kafka,
        topic: config.SKJOLD_KAFKA_TOPIC,
        metrics: deps.metrics,
        logger,
        batchMessages: config.SKJOLD_KAFKA_BATCH_MESSAGES,
        lingerMs: config.SKJOLD_KAFKA_LINGER_MS,
        bufferPoints: config.SKJOLD_BUFFER_POINTS,
        groupId: config.SKJOLD_KAFKA_GROUP,
      }),
    startWriter: (writer: LineWriter): Promise<KafkaWriter> =>
      startKafkaWriter({
        kafka,
        topic: config.SKJOLD_KAFKA_TOPIC,
        groupId: config.SKJOLD_KAFKA_GROUP,
        writer,
        metrics: deps.metrics,
        logger: deps.logger.child({ component: 'writer' }),
        refusedRetryMs: config.SKJOLD_RETRY_MAX_MS,
        batchPoints: config.SKJOLD_BATCH_POINTS,
        bufferPoints: config.SKJOLD_BUFFER_POINTS,
      }),
  };
}

export type KafkaPipeline = Awaited<ReturnType<typeof createKafkaPipeline>>;
