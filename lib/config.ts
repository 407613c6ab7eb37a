import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { SkjoldError } from './errors.ts';

/**
 * The one place that reads `process.env`. Every setting, its default and its
 * unit is here; docs/config.md documents the same table (a test keeps them in
 * step). The result is frozen: nothing changes configuration at run time.
 */
const int = (def: number) => z.coerce.number().int().nonnegative().default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const schema = z.object({
  SKJOLD_DATA_DIR: z.string().default('.data'), // registry (PGlite), key file, operator token
  SKJOLD_KEY_FILE: z.string().optional(), // default <data dir>/keys.json, mode 0600
  SKJOLD_KEYS: z.string().optional(), // keys as JSON (or base64 JSON) instead of a file: read-only
  SKJOLD_AUDIT_ANCHOR_FILE: z.string().optional(), // newest audit entry's hash, outside the registry; default <data dir>/audit-anchor.json
  SKJOLD_AUDIT_PEER_ANCHOR_FILES: z.string().default(''), // other instances' anchor files, separated by ';': verify checks the newest of all
  DATABASE_URL: z.string().optional(), // PostgreSQL registry; PGlite in the data dir when unset
  SKJOLD_OPERATOR_TOKEN: z.string().min(24).optional(), // generated into the data dir when unset
  SKJOLD_OPERATOR_NAME: z.string().min(1).default('the Skjold operator'), // named as controller or processor in the art. 30 records
  SKJOLD_SUBPROCESSORS: z.string().default(''), // recipients for the art. 30 records, separated by ';'
  SKJOLD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SKJOLD_LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'), // auto: pretty when stdout is a terminal, JSON otherwise
  SKJOLD_LOG_REJECTIONS_PER_MINUTE: int(5), // rejected messages logged in full per minute and log; the rest are counted and summarised
  SKJOLD_INSTANCE_ID: z.string().min(1).max(64).default(hostname()), // names this instance in logs, metrics and the broker id
  SKJOLD_REDIS_URL: z.string().url().optional(), // several instances share MQTT sessions and subscriptions through Redis
  SKJOLD_WORKERS: z.coerce.number().int().min(1).max(64).default(1), // `skjold start` processes sharing the MQTT and API ports (node:cluster); > 1 needs DATABASE_URL, SKJOLD_REDIS_URL, SKJOLD_KEYS

  SKJOLD_MQTT_HOST: z.string().default('0.0.0.0'),
  SKJOLD_MQTT_PORT: int(1883), // 8883 is conventional when TLS is on
  SKJOLD_MQTT_TLS_CERT: z.string().optional(), // PEM file; TLS is on when cert and key are set
  SKJOLD_MQTT_TLS_KEY: z.string().optional(),
  SKJOLD_MQTT_MAX_PACKET_BYTES: int(16 * 1024), // whole MQTT packet, header included
  SKJOLD_MQTT_CONNECT_RATE: int(200), // new connections per second, whole broker (burst = 2×)
  SKJOLD_MQTT_DEVICE_RATE: int(10), // messages per second per device (burst = 5×)
  SKJOLD_MQTT_SOURCE_CONNECT_RATE: int(20), // connection attempts per second from one source address (burst = 2×); 0: off
  SKJOLD_MQTT_SOURCE_MAX_FAILURES: int(20), // failed logins from one source address in the window before it is refused; 0: off
  SKJOLD_MQTT_SOURCE_FAILURE_WINDOW_SECONDS: z.coerce.number().int().positive().default(60), // and how long it then stays refused
  SKJOLD_MQTT_SOURCE_TABLE_SIZE: z.coerce.number().int().positive().default(10_000), // source addresses remembered at once (LRU)
  SKJOLD_MQTT_FAST_PATH: bool(true), // a device's own telemetry (QoS 0/1) bypasses aedes' emitter (docs/architecture.md, "The fast path")
  SKJOLD_AUTH_CACHE_SECONDS: int(300), // how long a verified credential is remembered
  SKJOLD_OBJECTION_REFRESH_SECONDS: z.coerce.number().int().positive().default(30), // ingest re-reads objections from the registry this often (changes made through another instance)

  SKJOLD_API_HOST: z.string().default('127.0.0.1'),
  SKJOLD_API_PORT: int(8080),
  SKJOLD_API_TLS_CERT: z.string().optional(), // PEM file; HTTPS is on when cert and key are set
  SKJOLD_API_TLS_KEY: z.string().optional(),
  SKJOLD_API_URL: z.string().url().optional(), // where CLI commands find a running Skjold
  SKJOLD_API_RATE: int(1200), // requests a minute from one address, all routes together (429 past it)
  SKJOLD_API_AUTH_FAILURES: int(10), // failed authentications a minute from one address before it is answered 429
  SKJOLD_METRICS_TOKEN: z.string().min(24).optional(), // Prometheus' Bearer token for /metrics; unset: /metrics answers loopback only
  SKJOLD_PROGRESS: z.enum(['auto', 'always', 'never']).default('auto'), // CLI progress on stderr; auto: when stderr is a terminal

  SKJOLD_INFLUX_URL: z.string().url().default('http://127.0.0.1:8086'),
  SKJOLD_INFLUX_USER: z.string().default('admin'),
  SKJOLD_INFLUX_PASSWORD: z.string().default(''),
  SKJOLD_INFLUX_DB_PREFIX: z.string().default('skjold_'),
  SKJOLD_INFLUX_SOCKETS: int(4), // bounded: unbounded parallel writes exhaust influxd's file descriptors
  SKJOLD_INFLUX_STORES: z.string().default(''), // more InfluxDB servers by name: `name=url;…` (credentials in the URL) or JSON {name: {url, user, password}}; SKJOLD_INFLUX_URL is `default`
  SKJOLD_INFLUX_NEW_TENANT_STORE: z.string().default('default'), // the store a new tenant is placed on
  SKJOLD_STORE_PLACEMENT_REFRESH_SECONDS: int(5), // every instance re-reads tenant placement this often; a move waits for it (0: one instance only)
  SKJOLD_STORE_MOVE_BATCH_POINTS: z.coerce.number().int().positive().default(5000), // points per read and write while a tenant moves
  SKJOLD_INFLUXD_MANAGED: bool(true), // `skjold start` runs its own influxd when none answers

  SKJOLD_TRANSPORT: z.enum(['spool', 'memory', 'kafka']).default('spool'), // ingest → store: local write-ahead spool, in-process queue (PUBACK after the store write), or Kafka (docs/kafka.md)
  SKJOLD_SPOOL_DIR: z.string().optional(), // spool segments and checkpoint; default <data dir>/spool
  SKJOLD_SPOOL_MAX_BYTES: int(1024 ** 3), // spooled bytes not yet in the store before devices wait for their PUBACK
  SKJOLD_SPOOL_SEGMENT_BYTES: int(32 * 1024 ** 2), // a new segment file is started past this size
  SKJOLD_SPOOL_SEGMENT_MAX_AGE_MS: int(5000), // …or after taking appends this long, so drained points leave the disk soon
  SKJOLD_BATCH_POINTS: int(2000), // points per write from the in-process queue and the Kafka writer
  SKJOLD_SPOOL_BATCH_POINTS: int(10_000), // points the spool's drainer takes for one store write (one at a time, split per tenant)
  SKJOLD_BATCH_MAX_WAIT_MS: int(50), // a partial batch is written after this long
  SKJOLD_BUFFER_POINTS: int(50_000), // in-flight points before devices wait for their PUBACK
  SKJOLD_RETRY_MAX_MS: int(30_000), // ceiling of the exponential backoff while the store is down
  SKJOLD_CLOCK_SKEW_FUTURE_MS: int(5 * 60_000), // device time further ahead than this is not trusted
  SKJOLD_CLOCK_SKEW_PAST_MS: int(7 * 24 * 3_600_000), // nor device time older than this

  SKJOLD_KAFKA_BROKERS: z.string().default(''), // bootstrap servers, host:port separated by ','; required with SKJOLD_TRANSPORT=kafka
  SKJOLD_KAFKA_CLIENT_ID: z.string().min(1).default('skjold'),
  SKJOLD_KAFKA_PRODUCER: z.enum(['kafkajs', 'rdkafka']).default('kafkajs'), // ingest's producer: kafkajs (pure JavaScript), or librdkafka (node-rdkafka, built at setup); the faster here is the default (docs/kafka.md, Throughput)
  SKJOLD_KAFKA_TOPIC: z.string().min(1).default('skjold.telemetry'), // pseudonymised points, keyed by device pseudonym
  SKJOLD_KAFKA_PARTITIONS: z.coerce.number().int().positive().default(12), // when Skjold creates the topic; the ceiling of parallel writers
  SKJOLD_KAFKA_REPLICATION: z.coerce.number().int().positive().default(3), // when Skjold creates the topic
  SKJOLD_KAFKA_RETENTION_HOURS: z.coerce.number().int().positive().default(72), // retention.ms of the topic: erased points are gone from it after this (art. 17); longer than the longest InfluxDB outage you plan for
  SKJOLD_KAFKA_RETENTION_CHECK: z.enum(['refuse', 'warn']).default('refuse'), // an existing topic whose retention is unbounded, longer or unknown: refuse to start, or start with a warning
  SKJOLD_KAFKA_GROUP: z.string().min(1).default('skjold-writers'), // consumer group of the store writers
  SKJOLD_KAFKA_WRITER: z.enum(['on', 'off']).default('on'), // `skjold start` also runs a store writer; off: ingest only
  SKJOLD_KAFKA_BATCH_MESSAGES: z.coerce.number().int().positive().default(5000), // points per produce request, at most
  SKJOLD_KAFKA_LINGER_MS: int(5), // a produce request waits this long for more points, also after the one before it settled
  SKJOLD_KAFKA_SSL: bool(false), // TLS to the brokers (system CAs, NODE_EXTRA_CA_CERTS)
  SKJOLD_KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(), // SASL is on when set
  SKJOLD_KAFKA_SASL_USERNAME: z.string().default(''),
  SKJOLD_KAFKA_SASL_PASSWORD: z.string().default(''),

  SKJOLD_RETENTION_SCHEDULE: z.enum(['daily', 'off']).default('daily'), // retention runs inside `skjold start`, or only on demand
  SKJOLD_RETENTION_HOUR_UTC: z.coerce.number().int().min(0).max(23).default(2), // hour of day (UTC) of the daily run
});

export type Config = Readonly<
  Omit<z.infer<typeof schema>, 'SKJOLD_KEY_FILE' | 'SKJOLD_AUDIT_ANCHOR_FILE' | 'SKJOLD_SPOOL_DIR'> & {
    SKJOLD_KEY_FILE: string;
    SKJOLD_SPOOL_DIR: string;
    SKJOLD_AUDIT_ANCHOR_FILE: string;
    SKJOLD_DATA_DIR: string;
  }
>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new SkjoldError('SKJOLD_ERR_CONFIG', detail);
  }
  const dataDir = resolve(overrides.SKJOLD_DATA_DIR ?? parsed.data.SKJOLD_DATA_DIR);
  return Object.freeze({
    ...parsed.data,
    SKJOLD_KEY_FILE: parsed.data.SKJOLD_KEY_FILE ?? resolve(dataDir, 'keys.json'),
    SKJOLD_AUDIT_ANCHOR_FILE: parsed.data.SKJOLD_AUDIT_ANCHOR_FILE ?? resolve(dataDir, 'audit-anchor.json'),
    SKJOLD_SPOOL_DIR: resolve(parsed.data.SKJOLD_SPOOL_DIR ?? resolve(dataDir, 'spool')),
    ...overrides,
    SKJOLD_DATA_DIR: dataDir,
  });
}

/** The documented settings, in order: used by the docs test. */
export const CONFIG_KEYS = Object.keys(schema.shape);
