import { Kafka, type KafkaConfig, type LogEntry, logLevel, type SASLOptions } from 'kafkajs';
import type { ProducerGlobalConfig } from 'node-rdkafka';
import type { Config } from '../lib/config.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { createKafkaTransport, type KafkaTransportOptions } from './kafka.ts';
import { createRdkafkaTransport } from './kafka-rdkafka.ts';
import type { Transport } from './transport.ts';

/** kafkajs' own logging, through Skjold's logger (its entries hold broker addresses and offsets, no data). */
function logCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = log;
      const entry = { kafka: log.logger, ...rest };
      if (level === logLevel.ERROR) logger.warn(entry, message);
      else if (level === logLevel.WARN) logger.info(entry, message);
      else logger.debug(entry, message);
    };
}

function sasl(config: Config): SASLOptions | undefined {
  const mechanism = config.SKJOLD_KAFKA_SASL_MECHANISM;
  if (!mechanism) return undefined;
  const credentials = {
    username: config.SKJOLD_KAFKA_SASL_USERNAME,
    password: config.SKJOLD_KAFKA_SASL_PASSWORD,
  };
  return { mechanism, ...credentials } as SASLOptions;
}

/** SKJOLD_KAFKA_BROKERS as a list; there must be at least one. */
export function kafkaBrokers(config: Config): string[] {
  const brokers = config.SKJOLD_KAFKA_BROKERS.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) {
    throw new SkjoldError(
      'SKJOLD_ERR_CONFIG',
      'SKJOLD_KAFKA_BROKERS is required with SKJOLD_TRANSPORT=kafka',
    );
  }
  return brokers;
}

/** The same brokers, client id, TLS and SASL as librdkafka names them. */
function rdkafkaConnection(config: Config): ProducerGlobalConfig {
  const mechanism = config.SKJOLD_KAFKA_SASL_MECHANISM;
  return {
    'bootstrap.servers': kafkaBrokers(config).join(','),
    'client.id': config.SKJOLD_KAFKA_CLIENT_ID,
    'security.protocol': `${mechanism ? 'sasl_' : ''}${config.SKJOLD_KAFKA_SSL ? 'ssl' : 'plaintext'}`,
    ...(mechanism
      ? {
          'sasl.mechanisms': mechanism.toUpperCase(),
          'sasl.username': config.SKJOLD_KAFKA_SASL_USERNAME,
          'sasl.password': config.SKJOLD_KAFKA_SASL_PASSWORD,
        }
      : {}),
  };
}

/** Ingest's side of the Kafka transport, on the producer SKJOLD_KAFKA_PRODUCER names. */
export function createProducerTransport(config: Config, options: KafkaTransportOptions): Promise<Transport> {
  return config.SKJOLD_KAFKA_PRODUCER === 'rdkafka'
    ? createRdkafkaTransport({ ...options, connection: rdkafkaConnection(config) })
    : createKafkaTransport(options);
}

/** A kafkajs client from the config: brokers, client id, TLS and SASL. */
export function createKafkaClient(config: Config, logger: Logger): Kafka {
  const brokers = kafkaBrokers(config);
  const saslOptions = sasl(config);
  const options: KafkaConfig = {
    clientId: config.SKJOLD_KAFKA_CLIENT_ID,
    brokers,
    ssl: config.SKJOLD_KAFKA_SSL,
    ...(saslOptions ? { sasl: saslOptions } : {}),
    logLevel: logLevel.INFO,
    logCreator: logCreator(logger.child({ component: 'kafka' })),
    // Brokers come and go (restarts, leader moves): keep trying rather than give up on a point.
    retry: { initialRetryTime: 100, maxRetryTime: 5000, retries: 10 },
  };
  return new Kafka(options);
}
