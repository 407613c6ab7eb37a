import type { Config } from '../lib/config.ts';
import type { Logger } from '../lib/log.ts';
import { createInfluxV1Store } from '../store/influx-v1.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';

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
