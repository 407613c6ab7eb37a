import { join } from 'node:path';
import type { ConsoleUsers } from '../api/console-users.ts';
import { createApiClient } from '../cli/api-client.ts';
import { localApiUrl } from '../lib/api-url.ts';
import type { Config } from '../lib/config.ts';
import { createConfiguredLogger } from '../lib/log.ts';
import { createSkjold } from './create-skjold.ts';
import { ensureInfluxd } from './managed-influxd.ts';
import { operatorToken, operatorTokenFile } from './operator-token.ts';
import { runSimulation } from './simulation.ts';
import { untilSignal } from './wiring.ts';

export interface StartOptions {
  simulate: boolean;
  devicesPerKind: number;
  ratePerDevice: number;
}

/**
 * `skjold start`: reads config, makes sure InfluxDB answers (running a private
 * influxd in the data directory when none does and that is allowed), builds
 * Skjold, listens, optionally runs the demo fleet, and shuts down in order on
 * SIGINT/SIGTERM.
 */
export async function runStart(baseConfig: Config, options: StartOptions): Promise<void> {
  const logger = createConfiguredLogger(baseConfig);
  const influx = await ensureInfluxd(baseConfig, join(baseConfig.SKJOLD_DATA_DIR, 'influxdb'), logger);
  const config = Object.freeze({ ...baseConfig, ...influx.config });
  const skjold = await createSkjold(config, {
    logger,
    ...(influx.restart ? { restartInfluxd: influx.restart } : {}),
  });
  const { mqttPort, apiPort } = await skjold.start();
  const api = localApiUrl(config, apiPort);
  const signIn = await operatorSignIn(skjold.users);

  const lines = [
    '',
    'Skjold is running.',
    `  MQTT (devices)     mqtt${config.SKJOLD_MQTT_TLS_CERT ? 's' : ''}://${config.SKJOLD_MQTT_HOST}:${mqttPort}  topic skjold/d/<login>/telemetry`,
    `  Console            ${api}${signIn}`,
    '                     (signs the operator in once, within 15 minutes; another: `npx skjold users sign-in-link --username operator`)',
    `  Metrics            ${api}/metrics`,
    `  API                ${api}/v1  (operator token: ${config.SKJOLD_OPERATOR_TOKEN ? 'SKJOLD_OPERATOR_TOKEN' : operatorTokenFile(config)})`,
    `  InfluxDB           ${config.SKJOLD_INFLUX_URL}  databases ${config.SKJOLD_INFLUX_DB_PREFIX}<tenant>${influx.managed ? ` (managed, data in ${influx.dir})` : ''}`,
    config.SKJOLD_TRANSPORT === 'spool'
      ? `  Spool              ${config.SKJOLD_SPOOL_DIR}  (PUBACK once a point is fsynced here; up to ${Math.round(config.SKJOLD_SPOOL_MAX_BYTES / 2 ** 20)} MiB while InfluxDB is away)`
      : config.SKJOLD_TRANSPORT === 'kafka'
        ? `  Kafka              ${config.SKJOLD_KAFKA_BROKERS} topic ${config.SKJOLD_KAFKA_TOPIC}; store writer ${config.SKJOLD_KAFKA_WRITER === 'on' ? `in this process (group ${config.SKJOLD_KAFKA_GROUP})` : 'off: run `skjold writer`'}`
        : '  Transport          in-process queue (PUBACK once InfluxDB has the point)',
    options.simulate
      ? `  Simulated fleet    ${options.devicesPerKind} devices of each kind per tenant at ${options.ratePerDevice} msg/s each`
      : '  Simulated fleet    off (npm start runs one; or `skjold simulate`)',
    config.SKJOLD_RETENTION_SCHEDULE === 'daily'
      ? `  Retention          daily at ${String(config.SKJOLD_RETENTION_HOUR_UTC).padStart(2, '0')}:00 UTC; \`skjold retention plan\` shows what it would do`
      : '  Retention          schedule off; run it with `skjold retention run`',
    config.SKJOLD_REDIS_URL
      ? `  Instance           ${config.SKJOLD_INSTANCE_ID}, sharing MQTT sessions and subscriptions through Redis`
      : `  Instance           ${config.SKJOLD_INSTANCE_ID} (one instance; SKJOLD_REDIS_URL shares MQTT state between several)`,
    '  Stop with Ctrl-C.',
    '',
  ];
  process.stderr.write(`${lines.join('\n')}\n`);

  const abort = new AbortController();
  let simulation: Promise<unknown> = Promise.resolve();
  if (options.simulate) {
    const client = createApiClient({ url: api, token: await operatorToken(config) });
    // The port the broker got: with SKJOLD_MQTT_PORT=0 it is chosen when it listens.
    simulation = runSimulation({ ...config, SKJOLD_MQTT_PORT: mqttPort }, client, {
      devicesPerKind: options.devicesPerKind,
      ratePerDevice: options.ratePerDevice,
      seed: 'skjold-demo',
      signal: abort.signal,
    }).then(
      (summary) => logger.info({ summary }, 'simulated fleet stopped'),
      (err: unknown) => logger.error({ err }, 'simulated fleet failed'),
    );
  }

  await untilSignal(logger);
  abort.abort();
  await simulation;
  await skjold.stop();
  await influx.stop();
}

/**
 * The console's first door: an `operator` user (created on the first start,
 * with no password) and a sign-in link that works once. Only the code's hash
 * is kept; the link is printed here and nowhere else.
 */
async function operatorSignIn(users: ConsoleUsers): Promise<string> {
  if (!(await users.get('operator'))) await users.create({ username: 'operator', role: 'operator' });
  return `/login#code=${await users.issueCode('operator')}`;
}
