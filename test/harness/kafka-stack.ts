import './kafkajs-mock-controller.ts';
import type { Config } from '../../lib/config.ts';
import { waitUntil } from '../../lib/process/server-process.ts';
import { metricValue, scrape } from '../e2e/metrics.ts';
import type { InfluxdServer } from './influxd.ts';
import { type KafkaMock, MOCK_SKJOLD_ENV, startKafkaMock } from './kafka-mock.ts';
import { type Stack, startStack } from './stack.ts';

export interface KafkaStack extends Stack {
  kafka: KafkaMock;
  topic: string;
}

/**
 * A Skjold on the Kafka transport: librdkafka's mock cluster (3 brokers), a
 * topic created on it, and a stack with SKJOLD_TRANSPORT=kafka pointing there.
 * `settled()` waits for the in-process store writer (SKJOLD_KAFKA_WRITER=on).
 */
export async function startKafkaStack(
  overrides: Partial<Config> = {},
  options: { influx?: InfluxdServer; partitions?: number; replication?: number } = {},
): Promise<KafkaStack> {
  const kafka = await startKafkaMock({ brokers: 3 });
  const topic = overrides.SKJOLD_KAFKA_TOPIC ?? 'skjold.telemetry';
  try {
    await kafka.createTopic(topic, options.partitions ?? 4, options.replication ?? 3);
    const stack = await startStack(
      {
        SKJOLD_TRANSPORT: 'kafka',
        ...MOCK_SKJOLD_ENV,
        SKJOLD_KAFKA_BROKERS: kafka.bootstrap,
        SKJOLD_KAFKA_TOPIC: topic,
        ...overrides,
      },
      options.influx ? { influx: options.influx } : {},
    );
    return {
      ...stack,
      kafka,
      topic,
      // On Kafka a PUBACK means "on the topic": settled is when the store
      // writer has stored as many points as ingest produced.
      async settled(timeoutMs = 60_000) {
        await waitUntil(
          async () => {
            const text = await scrape(stack.apiUrl);
            const produced = metricValue(text, 'skjold_kafka_points_produced_total', { outcome: 'ok' });
            const stored = metricValue(text, 'skjold_kafka_points_consumed_total', { outcome: 'stored' });
            return stack.skjold.transport.buffered() === 0 && stored >= produced;
          },
          { what: 'the store writer stored all the topic holds', timeoutMs },
        );
      },
      async stop() {
        await stack.stop();
        await kafka.stop();
      },
    };
  } catch (err) {
    await kafka.stop();
    throw err;
  }
}
