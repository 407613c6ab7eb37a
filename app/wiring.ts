import type { Config } from '../lib/config.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import { createInfluxV1Store } from '../store/influx-v1.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { createStoreWriter, type StoreWriters } from '../transport/store-writer.ts';

/** The InfluxDB store the settings describe (`skjold start` and `skjold writer` alike). */
export function storeFromConfig(config: Config): TelemetryStore {
  return createInfluxV1Store({
    url: config.SKJOLD_INFLUX_URL,
    username: config.SKJOLD_INFLUX_USER,
    password: config.SKJOLD_INFLUX_PASSWORD,
    databasePrefix: config.SKJOLD_INFLUX_DB_PREFIX,
    maxSockets: config.SKJOLD_INFLUX_SOCKETS,
  });
}

/** The store writer the settings describe; it keeps retrying a down store until `stopping()` says otherwise. */
export function storeWriterFromConfig(
  config: Config,
  deps: { store: TelemetryStore; metrics: Metrics; logger: Logger; stopping: () => boolean },
): StoreWriters {
  return createStoreWriter({
    store: deps.store,
    metrics: deps.metrics,
    logger: deps.logger.child({ component: 'writer' }),
    retryMaxMs: config.SKJOLD_RETRY_MAX_MS,
    keepTrying: () => !deps.stopping(),
  });
}

/** Resolves on the first SIGINT or SIGTERM, logging which. */
export function untilSignal(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
