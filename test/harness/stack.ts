import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createSkjold, type Skjold, type SkjoldOptions } from '../../app/create-skjold.ts';
import { type ApiClient, createApiClient } from '../../cli/api-client.ts';
import { apiTlsOn } from '../../lib/api-url.ts';
import { type Config, loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { waitUntil } from '../../lib/process/server-process.ts';
import { type InfluxdServer, startInfluxd } from './influxd.ts';
import { openTestRegistry, type RegistryKind } from './registries.ts';

export interface Stack {
  skjold: Skjold;
  influx: InfluxdServer;
  config: Config;
  mqttUrl: string;
  apiUrl: string;
  api: ApiClient;
  /** Every log line Skjold wrote, as written. */
  logs: string[];
  /** Resolves once the transport holds no point (all acknowledged points are in InfluxDB); fails after `timeoutMs`. */
  settled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A whole Skjold for one test file: a private influxd (auth on), a fresh
 * registry (PGlite from the shared template, or a private PostgreSQL), a temp
 * data dir, broker and API on free ports, and the logs captured so tests can
 * search them.
 */
export async function startStack(
  overrides: Partial<Config> = {},
  options: {
    influx?: InfluxdServer;
    skjold?: SkjoldOptions;
    /** The registry backend when the test brings no `skjold.sql`: PGlite unless it asks for PostgreSQL. */
    registry?: RegistryKind;
  } = {},
): Promise<Stack> {
  const skjoldOptions = options.skjold ?? {};
  const influx = options.influx ?? (await startInfluxd());
  const dataDir = mkdtempSync(join(tmpdir(), 'skjold-test-'));
  const config = loadConfig(
    { SKJOLD_LOG_LEVEL: 'debug' },
    {
      SKJOLD_DATA_DIR: dataDir,
      SKJOLD_KEY_FILE: join(dataDir, 'keys.json'),
      SKJOLD_MQTT_HOST: '127.0.0.1',
      SKJOLD_MQTT_PORT: 0,
      SKJOLD_API_PORT: 0,
      SKJOLD_INFLUX_URL: influx.url,
      SKJOLD_INFLUX_USER: influx.adminUser,
      SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
      SKJOLD_OPERATOR_TOKEN: 'test-operator-token-0123456789',
      SKJOLD_MQTT_DEVICE_RATE: 1000,
      SKJOLD_MQTT_CONNECT_RATE: 1000,
      // Every test client comes from 127.0.0.1: one source, many devices.
      SKJOLD_MQTT_SOURCE_CONNECT_RATE: 1000,
      // Tests run retention themselves; a daily run must not fire in the middle of one.
      SKJOLD_RETENTION_SCHEDULE: 'off',
      ...overrides,
    },
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  // Only when the test brings no registry: an unused one would keep the process alive.
  const registry = skjoldOptions.sql ? undefined : await openTestRegistry(options.registry ?? 'pglite');
  const skjold = await createSkjold(config, {
    logger: createLogger('debug', sink),
    restartInfluxd: () => influx.restart(),
    ...skjoldOptions,
    sql: skjoldOptions.sql ?? (registry as NonNullable<typeof registry>).sql,
  });
  const { mqttPort, apiPort } = await skjold.start();
  // With the spool (the default transport) a PUBACK means "durable on local
  // disk"; the point reaches InfluxDB moments later. A test that reads back
  // what it published says so with `settled()`; store queries are not made to
  // wait, so erasure and retention meet readings in transit as they would in
  // production, and their own wait (Transport.drained) is what is tested.
  const settled = (timeoutMs = 15_000): Promise<void> =>
    waitUntil(async () => skjold.transport.buffered() === 0, {
      what: 'the transport handed every point it took to the store',
      timeoutMs,
      intervalMs: 10,
    });
  const apiUrl = `${apiTlsOn(config) ? 'https' : 'http'}://127.0.0.1:${apiPort}`;
  return {
    skjold,
    influx,
    config,
    mqttUrl: `${config.SKJOLD_MQTT_TLS_CERT ? 'mqtts' : 'mqtt'}://127.0.0.1:${mqttPort}`,
    apiUrl,
    api: createApiClient({ url: apiUrl, token: config.SKJOLD_OPERATOR_TOKEN ?? '' }),
    logs,
    settled,
    async stop() {
      await skjold.stop();
      if (registry) await registry.close();
      else await skjold.registry.close();
      if (!options.influx) await influx.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
