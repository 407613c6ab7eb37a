import type { Config } from '../lib/config.ts';
import { SkjoldError } from '../lib/errors.ts';
import { createConfiguredLogger } from '../lib/log.ts';
import { createMetrics } from '../lib/metrics.ts';
import { openRegistrySql } from './create-skjold.ts';
import { createKafkaPipeline } from './kafka.ts';
import { singleStore, storeFromConfig, storeWriterFromConfig, untilSignal } from './wiring.ts';

/**
 * `skjold writer`: a store writer and nothing else — no broker, no API, and
 * the registry only with several stores (where each tenant's store is). It joins the writers' consumer group, writes what Kafka holds to
 * InfluxDB and commits after each accepted batch. Run as many as the topic
 * has partitions; SIGINT/SIGTERM leave the group (an uncommitted batch is
 * written again by another writer, harmlessly).
 */
export async function runWriter(config: Config): Promise<void> {
  if (config.SKJOLD_TRANSPORT !== 'kafka') {
    throw new SkjoldError('SKJOLD_ERR_CONFIG', 'skjold writer needs SKJOLD_TRANSPORT=kafka');
  }
  const logger = createConfiguredLogger(config);
  const metrics = createMetrics();
  // With several stores, placement is in the registry: the writer reads it to send each
  // tenant's points to its store. With one store there is nothing to look up.
  const several = config.SKJOLD_INFLUX_STORES.trim() !== '';
  if (several && !config.DATABASE_URL) {
    throw new SkjoldError('SKJOLD_ERR_CONFIG', 'skjold writer with SKJOLD_INFLUX_STORES needs DATABASE_URL');
  }
  const sql = several ? await openRegistrySql(config, logger) : undefined;
  const router = sql ? storeFromConfig(config, sql, logger) : undefined;
  await router?.refresh();
  const store = router ?? singleStore(config);
  let stopping = false;
  const writer = storeWriterFromConfig(config, { store, metrics, logger, stopping: () => stopping });
  const kafka = await createKafkaPipeline(config, { metrics, logger });
  const running = await kafka.startWriter(writer);
  process.stderr.write(
    `Skjold store writer: ${config.SKJOLD_KAFKA_BROKERS} topic ${config.SKJOLD_KAFKA_TOPIC} ` +
      `group ${config.SKJOLD_KAFKA_GROUP} → ${config.SKJOLD_INFLUX_URL}\n`,
  );
  await untilSignal(logger);
  stopping = true;
  await running.stop();
  await store.close();
  await sql?.close();
}
