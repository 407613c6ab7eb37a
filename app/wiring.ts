import type { Config } from '../lib/config.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { SqlClient } from '../registry/sql.ts';
import { createTenantPlacement } from '../registry/tenant-placement.ts';
import { createInfluxV1Store } from '../store/influx-v1.ts';
import { DEFAULT_STORE, storeSpecs } from '../store/store-list.ts';
import { createStoreRouter, type StoreRouter } from '../store/store-router.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { createStoreWriter, type StoreWriters } from '../transport/store-writer.ts';

/** The InfluxDB servers the settings name (SKJOLD_INFLUX_URL as `default`, then SKJOLD_INFLUX_STORES). */
export function storesFromConfig(config: Config): Map<string, TelemetryStore> {
  return new Map(
    storeSpecs(config).map((spec) => [
      spec.name,
      createInfluxV1Store({
        url: spec.url,
        ...(spec.username !== undefined ? { username: spec.username } : {}),
        ...(spec.password !== undefined ? { password: spec.password } : {}),
        databasePrefix: config.SKJOLD_INFLUX_DB_PREFIX,
        maxSockets: config.SKJOLD_INFLUX_SOCKETS,
      }),
    ]),
  );
}

/** The `default` store alone (SKJOLD_INFLUX_URL): for a writer when no other store is configured. */
export function singleStore(config: Config): TelemetryStore {
  return storesFromConfig(config).get(DEFAULT_STORE) as TelemetryStore;
}

/**
 * The store the settings describe (`skjold start` and `skjold writer` alike):
 * a router that sends each tenant's calls to the server the registry places
 * it on (docs/stores.md).
 */
export function storeFromConfig(config: Config, sql: SqlClient, logger?: Logger): StoreRouter {
  return createStoreRouter({
    stores: storesFromConfig(config),
    placement: createTenantPlacement(sql),
    newTenantStore: config.SKJOLD_INFLUX_NEW_TENANT_STORE,
    refreshMs: config.SKJOLD_STORE_PLACEMENT_REFRESH_SECONDS * 1000,
    ...(logger ? { logger: logger.child({ component: 'stores' }) } : {}),
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
