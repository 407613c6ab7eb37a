import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createConsoleUsers } from '../api/console-users.ts';
import { createApi } from '../api/server.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { createAuthenticator } from '../broker/authenticator.ts';
import { createBroker } from '../broker/broker.ts';
import { createCluster } from '../broker/cluster.ts';
import { createFleetHealth } from '../fleet/health.ts';
import { createIngest } from '../ingest/ingest.ts';
import { createObjectionGate } from '../ingest/objection-gate.ts';
import { createIngestPseudonymizer } from '../ingest/pseudonymizer-adapter.ts';
import { createRejectionLog } from '../ingest/rejection-log.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import type { Config } from '../lib/config.ts';
import { SkjoldError } from '../lib/errors.ts';
import { createConfiguredLogger, type Logger } from '../lib/log.ts';
import { createMetrics, type Metrics } from '../lib/metrics.ts';
import { openKeyStore } from '../pseudonymizer/keystore.ts';
import { createPseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import { createEnrolment } from '../registry/enrolment.ts';
import { migrate } from '../registry/migrate.ts';
import { createPgliteClient } from '../registry/pglite-client.ts';
import { createPostgresClient } from '../registry/postgres-client.ts';
import { createRegistry } from '../registry/registry.ts';
import type { SqlClient } from '../registry/sql.ts';
import { createTenantPlacement } from '../registry/tenant-placement.ts';
import { createSealer } from '../requests/sealing.ts';
import { createLegalHolds } from '../retention/holds.ts';
import { createRetention } from '../retention/retention.ts';
import { createRetentionSchedule } from '../retention/schedule.ts';
import { createIndexPurge } from '../store/index-purge.ts';
import { DEFAULT_TIMEOUT_MS } from '../store/influx-v1.ts';
import { DEFAULT_STORE } from '../store/store-list.ts';
import { createTenantMover } from '../store/tenant-move.ts';
import { createInProcessTransport } from '../transport/in-process.ts';
import type { KafkaWriter } from '../transport/kafka-writer.ts';
import { createSpoolTransport } from '../transport/spool.ts';
import type { SpoolFiles } from '../transport/spool-files.ts';
import type { StoreWriters } from '../transport/store-writer.ts';
import type { Transport } from '../transport/transport.ts';
import { createKafkaPipeline, type KafkaPipeline } from './kafka.ts';
import { operatorToken } from './operator-token.ts';
import { readTlsFiles } from './tls-files.ts';
import { storeFromConfig, storeWriterFromConfig } from './wiring.ts';

export interface SkjoldOptions {
  logger?: Logger;
  /** An already-open registry connection (tests share a migrated template). */
  sql?: SqlClient;
  now?: () => number;
  /** Where retention, request deadlines and the audit log get the date. */
  clock?: Clock;
  /** Restarts the influxd Skjold manages, to purge erased pseudonyms from its index (store/index-purge.ts). */
  restartInfluxd?: () => Promise<void>;
  /** How the spool opens its segment files (tests make the durable write hang or fail). */
  spoolFiles?: SpoolFiles;
}

/** The version package.json names: what the OpenAPI document says it describes. */
async function skjoldVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(import.meta.dirname, '../package.json'), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0';
}

export async function openRegistrySql(config: Config, logger: Logger): Promise<SqlClient> {
  if (config.DATABASE_URL) {
    return createPostgresClient(config.DATABASE_URL, {
      onIdleError: (err) => logger.warn({ err }, 'registry connection lost; the next query reconnects'),
    });
  }
  return createPgliteClient({ dataDir: join(config.SKJOLD_DATA_DIR, 'registry') });
}

/** The hop from ingest to the store, as SKJOLD_TRANSPORT chooses (docs/config.md). */
async function createTransport(
  config: Config,
  writer: StoreWriters,
  metrics: Metrics,
  logger: Logger,
  kafka: KafkaPipeline | undefined,
  spoolFiles: SpoolFiles | undefined,
): Promise<Transport> {
  if (kafka) return kafka.createTransport();
  switch (config.SKJOLD_TRANSPORT) {
    case 'spool':
      return createSpoolTransport({
        dir: config.SKJOLD_SPOOL_DIR,
        writer,
        metrics,
        logger: logger.child({ component: 'spool' }),
        batchPoints: config.SKJOLD_SPOOL_BATCH_POINTS,
        maxWaitMs: config.SKJOLD_BATCH_MAX_WAIT_MS,
        maxBytes: config.SKJOLD_SPOOL_MAX_BYTES,
        segmentBytes: config.SKJOLD_SPOOL_SEGMENT_BYTES,
        segmentMaxAgeMs: config.SKJOLD_SPOOL_SEGMENT_MAX_AGE_MS,
        ...(spoolFiles ? { files: spoolFiles } : {}),
      });
    case 'kafka':
      throw new SkjoldError('SKJOLD_ERR_CONFIG', 'SKJOLD_TRANSPORT=kafka needs the Kafka pipeline');
    case 'memory':
      return createInProcessTransport({
        writer,
        metrics,
        batchPoints: config.SKJOLD_BATCH_POINTS,
        maxWaitMs: config.SKJOLD_BATCH_MAX_WAIT_MS,
        bufferPoints: config.SKJOLD_BUFFER_POINTS,
      });
  }
}

/**
 * Builds every part of Skjold from one frozen config: registry, keys,
 * pseudonymizer, store, transport, ingest, broker and API. Nothing listens
 * until `start()`; `stop()` closes in the order that loses nothing: stop
 * taking messages, flush what was taken, then close the stores.
 */
export async function createSkjold(config: Config, options: SkjoldOptions = {}) {
  // Every log line says which instance it came from; /metrics says it once.
  const logger = (options.logger ?? createConfiguredLogger(config)).child({
    instance: config.SKJOLD_INSTANCE_ID,
  });
  const metrics = createMetrics();
  metrics.instanceInfo.set({ instance_id: config.SKJOLD_INSTANCE_ID }, 1);
  if (config.SKJOLD_REDIS_URL && !config.DATABASE_URL && !options.sql) {
    // Instances that share MQTT state but not the registry would each know other devices.
    throw new SkjoldError(
      'SKJOLD_ERR_CONFIG',
      'SKJOLD_REDIS_URL needs DATABASE_URL: instances share one registry',
    );
  }
  const keyStore = await openKeyStore({
    file: config.SKJOLD_KEY_FILE,
    ...(config.SKJOLD_KEYS ? { envValue: config.SKJOLD_KEYS } : {}),
  });
  const sql = options.sql ?? (await openRegistrySql(config, logger));
  const sealer = createSealer(keyStore);
  await migrate(sql, { sealer });
  const registry = createRegistry(sql);
  const clock = options.clock ?? systemClock;
  const audit = createAuditLog(sql, {
    key: await keyStore.auditKey(),
    clock,
    anchorFile: config.SKJOLD_AUDIT_ANCHOR_FILE,
    peerAnchorFiles: config.SKJOLD_AUDIT_PEER_ANCHOR_FILES.split(';')
      .map((s) => s.trim())
      .filter(Boolean),
  });
  // A chain from before the audit key is sealed under it once (docs/accountability.md).
  const sealed = await audit.sealLegacyChain();
  if (sealed.sealed) logger.info('audit log: the chain written before the audit key is now sealed under it');
  if (sealed.refused)
    logger.error(
      { reason: sealed.refused },
      'audit log: the old chain cannot be sealed; audit verify reports it',
    );
  const holds = createLegalHolds(sql, sealer);
  const users = createConsoleUsers(sql, clock);
  const pseudonymizer = createPseudonymizer(keyStore);
  const enrolment = createEnrolment({ registry, keyStore, pseudonymizer });
  const store = storeFromConfig(config, sql, logger);
  await store.refresh();
  const tenantMoves = createTenantMover({
    router: store,
    placement: createTenantPlacement(sql),
    audit,
    clock,
    logger: logger.child({ component: 'stores' }),
    // Other instances see a changed placement within their refresh interval, and a write one of
    // them began just before may take its whole deadline (docs/stores.md).
    settleMs:
      config.SKJOLD_STORE_PLACEMENT_REFRESH_SECONDS > 0
        ? config.SKJOLD_STORE_PLACEMENT_REFRESH_SECONDS * 1000 + DEFAULT_TIMEOUT_MS
        : 0,
    batchPoints: config.SKJOLD_STORE_MOVE_BATCH_POINTS,
  });

  const restartInfluxd = options.restartInfluxd;
  // Skjold runs only the `default` store's influxd; a tenant elsewhere is reported as on an external one.
  const indexPurge = createIndexPurge(
    store,
    restartInfluxd
      ? async (tenantId) => {
          if ((await store.placementOf(tenantId)).store !== DEFAULT_STORE) return false;
          await restartInfluxd();
          return true;
        }
      : undefined,
  );

  let stopping = false;
  const writer = storeWriterFromConfig(config, { store, metrics, logger, stopping: () => stopping });
  const kafka =
    config.SKJOLD_TRANSPORT === 'kafka' ? await createKafkaPipeline(config, { metrics, logger }) : undefined;
  const transport = await createTransport(config, writer, metrics, logger, kafka, options.spoolFiles);
  const fleet = createFleetHealth({
    sql,
    clock,
    metrics,
    store,
    logger: logger.child({ component: 'fleet' }),
    spool: config.SKJOLD_TRANSPORT === 'spool',
  });
  const objections = createObjectionGate({
    sql,
    logger: logger.child({ component: 'objections' }),
    refreshMs: config.SKJOLD_OBJECTION_REFRESH_SECONDS * 1000,
  });
  let kafkaWriter: KafkaWriter | undefined;
  const brokerLogger = logger.child({ component: 'broker' });
  const fullLinesPerInterval = config.SKJOLD_LOG_REJECTIONS_PER_MINUTE; // the interval is a minute
  const ingestRejections = createRejectionLog({
    logger: logger.child({ component: 'ingest' }),
    clock,
    fullLinesPerInterval,
  });
  const brokerRejections = createRejectionLog({ logger: brokerLogger, clock, fullLinesPerInterval });
  const ingest = createIngest({
    pseudonymizer: createIngestPseudonymizer(pseudonymizer),
    transport,
    metrics,
    fleet: fleet.events,
    gate: objections,
    rejections: ingestRejections,
    time: { futureSkewMs: config.SKJOLD_CLOCK_SKEW_FUTURE_MS, pastSkewMs: config.SKJOLD_CLOCK_SKEW_PAST_MS },
    ...(options.now ? { now: options.now } : {}),
  });
  const authenticator = createAuthenticator({
    registry,
    enrolment,
    pseudonymizer,
    cacheMs: config.SKJOLD_AUTH_CACHE_SECONDS * 1000,
    ...(options.now ? { now: options.now } : {}),
  });
  const tls = await readTlsFiles(
    { cert: 'SKJOLD_MQTT_TLS_CERT', key: 'SKJOLD_MQTT_TLS_KEY' },
    config.SKJOLD_MQTT_TLS_CERT,
    config.SKJOLD_MQTT_TLS_KEY,
  );
  const apiTls = await readTlsFiles(
    { cert: 'SKJOLD_API_TLS_CERT', key: 'SKJOLD_API_TLS_KEY' },
    config.SKJOLD_API_TLS_CERT,
    config.SKJOLD_API_TLS_KEY,
  );
  const cluster = config.SKJOLD_REDIS_URL
    ? createCluster({ redisUrl: config.SKJOLD_REDIS_URL, logger: logger.child({ component: 'cluster' }) })
    : undefined;
  if (cluster && !keyStore.readOnly) {
    logger.warn('several instances with a key file each: give them all the same keys through SKJOLD_KEYS');
  }
  const broker = await createBroker({
    // Unique even if two instances were given the same name: takeover across instances depends on it.
    id: `${config.SKJOLD_INSTANCE_ID}-${randomBytes(4).toString('hex')}`,
    shared: cluster,
    authenticator,
    ingest,
    metrics,
    fleet: fleet.events,
    fastPath: config.SKJOLD_MQTT_FAST_PATH,
    logger: brokerLogger,
    rejections: brokerRejections,
    limits: {
      maxPacketBytes: config.SKJOLD_MQTT_MAX_PACKET_BYTES,
      connectRate: config.SKJOLD_MQTT_CONNECT_RATE,
      deviceRate: config.SKJOLD_MQTT_DEVICE_RATE,
      perSource: {
        connectRate: config.SKJOLD_MQTT_SOURCE_CONNECT_RATE,
        maxFailures: config.SKJOLD_MQTT_SOURCE_MAX_FAILURES,
        failureWindowMs: config.SKJOLD_MQTT_SOURCE_FAILURE_WINDOW_SECONDS * 1000,
        maxSources: config.SKJOLD_MQTT_SOURCE_TABLE_SIZE,
      },
    },
    tls,
  });
  // Crypto-shredding (docs/retention.md): nothing may keep writing under a destroyed key.
  keyStore.onDestroy((tenantId, version) => broker.keyVersionDestroyed(tenantId, version));
  const retention = createRetention({
    registry,
    store,
    holds,
    audit,
    clock,
    logger,
    indexPurge,
    transport,
    keyStore,
  });
  const retentionSchedule =
    config.SKJOLD_RETENTION_SCHEDULE === 'daily'
      ? createRetentionSchedule({
          hourUtc: config.SKJOLD_RETENTION_HOUR_UTC,
          clock,
          run: () => retention.run(undefined, 'schedule'),
          logger: logger.child({ component: 'retention' }),
        })
      : undefined;
  let listening = false;
  const api = createApi({
    registry,
    enrolment,
    keyStore,
    store,
    tenantMoves,
    metrics,
    logger,
    audit,
    holds,
    clock,
    indexPurge,
    transport,
    fleet,
    version: await skjoldVersion(),
    objections,
    operatorName: config.SKJOLD_OPERATOR_NAME,
    subProcessors: config.SKJOLD_SUBPROCESSORS.split(';')
      .map((s) => s.trim())
      .filter(Boolean),
    operatorToken: await operatorToken(config),
    metricsToken: config.SKJOLD_METRICS_TOKEN,
    users,
    limits: {
      requestsPerMinute: config.SKJOLD_API_RATE,
      authFailuresPerMinute: config.SKJOLD_API_AUTH_FAILURES,
    },
    tls: apiTls,
    mqtt: { decommissioned: (deviceId) => broker.decommissioned(deviceId) },
    readiness: {
      broker: async () => listening && !stopping && broker.server.listening,
      ...(cluster ? { redis: () => cluster.ping() } : {}),
    },
  });

  return {
    config,
    logger,
    metrics,
    registry,
    keyStore,
    pseudonymizer,
    enrolment,
    store,
    tenantMoves,
    audit,
    holds,
    users,
    clock,
    retention,
    indexPurge,
    transport,
    fleet,
    objections,
    broker,
    api,

    async start(): Promise<{ mqttPort: number; apiPort: number }> {
      if (kafka && config.SKJOLD_KAFKA_WRITER === 'on') kafkaWriter = await kafka.startWriter(writer);
      // Before the first message: an objection recorded while Skjold was down holds from its first point.
      await objections.start();
      const mqtt = await broker.listen(config.SKJOLD_MQTT_PORT, config.SKJOLD_MQTT_HOST);
      await api.listen({ port: config.SKJOLD_API_PORT, host: config.SKJOLD_API_HOST });
      const apiAddress = api.server.address();
      listening = true;
      fleet.start();
      retentionSchedule?.start();
      return {
        mqttPort: mqtt.port,
        apiPort: typeof apiAddress === 'object' && apiAddress ? apiAddress.port : 0,
      };
    },

    async stop(): Promise<void> {
      // Devices first, so nothing new is accepted; then flush what was.
      await retentionSchedule?.stop();
      await broker.close();
      // What was counted but not yet summarised is said before the process goes.
      ingestRejections.close();
      brokerRejections.close();
      await cluster?.close();
      await fleet.stop();
      objections.stop();
      stopping = true;
      await transport.close();
      await kafkaWriter?.stop();
      await api.close();
      await store.close();
      if (!options.sql) await sql.close();
    },
  };
}

export type Skjold = Awaited<ReturnType<typeof createSkjold>>;
