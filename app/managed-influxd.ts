import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../lib/config.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { createInfluxAdmin, influxPing, runInfluxd } from '../store/influxd/server.ts';

export interface InfluxdForStart {
  managed: boolean;
  dir?: string;
  /** Settings that point Skjold at the influxd it should use. */
  config: Partial<Config>;
  stop(): Promise<void>;
  /** Present when Skjold runs influxd itself. */
  restart?: () => Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * `skjold start` on a fresh machine: when nothing answers at
 * SKJOLD_INFLUX_URL (a loopback address) and managed influxd is allowed, run
 * one with its data in `dir`, auth on, and an admin password generated once
 * and kept beside the data (0600).
 */
export async function ensureInfluxd(config: Config, dir: string, logger: Logger): Promise<InfluxdForStart> {
  const none = { managed: false, config: {}, stop: async () => {} };
  if (await influxPing(config.SKJOLD_INFLUX_URL)) return none;
  const url = new URL(config.SKJOLD_INFLUX_URL);
  if (!config.SKJOLD_INFLUXD_MANAGED || !LOOPBACK.has(url.hostname)) {
    throw new SkjoldError(
      'SKJOLD_ERR_STORE_UNAVAILABLE',
      `nothing answers at ${url.origin}; start InfluxDB 1.x there or unset SKJOLD_INFLUXD_MANAGED`,
    );
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const passwordFile = join(dir, 'admin-password');
  const firstStart = !existsSync(passwordFile);
  const password = firstStart
    ? randomBytes(18).toString('base64url')
    : (await readFile(passwordFile, 'utf8')).trim();
  const httpPort = Number(url.port || 8086);
  logger.info({ url: url.origin, dir }, 'no InfluxDB answers: starting a managed influxd');
  const influxd = await runInfluxd({ dir, httpPort, rpcPort: httpPort + 2, auth: true });
  if (firstStart) {
    await createInfluxAdmin(influxd.url, 'admin', password);
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  return {
    managed: true,
    dir,
    config: { SKJOLD_INFLUX_URL: influxd.url, SKJOLD_INFLUX_USER: 'admin', SKJOLD_INFLUX_PASSWORD: password },
    stop: () => influxd.stop(),
    restart: () => influxd.restart(),
  };
}
