import { join } from 'node:path';
import { localApiUrl } from '../lib/api-url.ts';
import type { Config } from '../lib/config.ts';
import { createConfiguredLogger } from '../lib/log.ts';
import { createSkjold } from './create-skjold.ts';
import { operatorSignIn } from './main.ts';
import { ensureInfluxd } from './managed-influxd.ts';
import { operatorToken, operatorTokenFile } from './operator-token.ts';
import { untilSignal } from './wiring.ts';
import { assignment, forkWorkers, reportReady, workerConfig } from './workers.ts';

/**
 * `skjold start` with SKJOLD_WORKERS > 1, in the primary: makes sure InfluxDB
 * answers and the operator token exists (once, before the workers could race
 * for them), forks the workers, and stops them in order on SIGINT/SIGTERM.
 */
export async function runPrimary(baseConfig: Config): Promise<void> {
  const logger = createConfiguredLogger(baseConfig).child({ instance: baseConfig.SKJOLD_INSTANCE_ID });
  const influx = await ensureInfluxd(baseConfig, join(baseConfig.SKJOLD_DATA_DIR, 'influxdb'), logger);
  const config = Object.freeze({ ...baseConfig, ...influx.config });
  await operatorToken(config);
  const pool = await forkWorkers(config, influx.config, logger);
  const api = localApiUrl(config, pool.apiPort);
  const lines = [
    '',
    `Skjold is running in ${config.SKJOLD_WORKERS} worker processes sharing one port each.`,
    `  MQTT (devices)     mqtt${config.SKJOLD_MQTT_TLS_CERT ? 's' : ''}://${config.SKJOLD_MQTT_HOST}:${pool.mqttPort}  topic skjold/d/<login>/telemetry`,
    `  Console            ${api}${pool.signIn ?? ''}`,
    `  API                ${api}/v1  (operator token: ${config.SKJOLD_OPERATOR_TOKEN ? 'SKJOLD_OPERATOR_TOKEN' : operatorTokenFile(config)})`,
    `  Metrics            ${api}/metrics  (of the worker that answers: skjold_instance_info names it)`,
    `  Spools             ${config.SKJOLD_SPOOL_DIR}/w1 … w${config.SKJOLD_WORKERS}`,
    '  Stop with Ctrl-C.',
    '',
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  await untilSignal(logger);
  await pool.stop();
  await influx.stop();
}

/** A worker: waits for its index, runs one Skjold on the shared ports, stops on a signal. */
export async function runWorker(baseConfig: Config): Promise<void> {
  const { index, overrides } = await assignment();
  const config = workerConfig(Object.freeze({ ...baseConfig, ...overrides }), index);
  const logger = createConfiguredLogger(config);
  const skjold = await createSkjold(config, { logger });
  const { mqttPort, apiPort } = await skjold.start();
  const signIn = index === 0 ? await operatorSignIn(skjold.users) : undefined;
  reportReady({ index, mqttPort, apiPort, ...(signIn ? { signIn } : {}) });
  await untilSignal(logger);
  // Ctrl-C reaches the primary and every worker, and the primary then sends
  // SIGTERM too: a second signal must not cut the orderly stop short.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  await skjold.stop();
  process.disconnect?.();
}
