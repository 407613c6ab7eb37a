import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../../lib/process/find-binary.ts';
import { type ServerProcess, spawnServer, waitUntil } from '../../lib/process/server-process.ts';
import { quoteIdentifier, quoteString } from '../influxql.ts';
import { influxdConfig } from './config.ts';

const DEBIAN_HINT =
  'InfluxDB 1.x is required: install the Debian package `influxdb` (apt-get install influxdb), ' +
  'which scripts/setup.sh does on a fresh machine.';

/** Absolute path of influxd, or a loud error saying how to install it. */
export function influxdBinary(): string {
  return findBinary('influxd', { extraDirs: ['/usr/bin', '/usr/sbin'], installHint: DEBIAN_HINT });
}

/**
 * What influxd may see of Skjold's environment: the config file sets every
 * path and port, so it needs nothing else. Never SKJOLD_KEYS, the operator
 * token, DATABASE_URL or the InfluxDB password (art. 32(1): a process holds
 * only the secrets its job needs, and /proc/<pid>/environ of a child is
 * readable by its user for as long as it runs). INFLUXDB_* overrides, which
 * influxd would apply on top of its config file, stay out too.
 */
const INFLUXD_ENV = ['PATH', 'HOME', 'TZ', 'LANG', 'LC_ALL'] as const;

function influxdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of INFLUXD_ENV) if (process.env[key] !== undefined) env[key] = process.env[key];
  return env;
}

export async function influxPing(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 204;
  } catch {
    return false;
  }
}

/** Creates the admin user: allowed without credentials only while the instance has no users at all. */
export async function createInfluxAdmin(url: string, user: string, password: string): Promise<void> {
  const q = `CREATE USER ${quoteIdentifier(user)} WITH PASSWORD ${quoteString(password)} WITH ALL PRIVILEGES`;
  const res = await fetch(`${url}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ q }).toString(),
  });
  const body = await res.text();
  if (res.status !== 200 || body.includes('"error"')) {
    throw new Error(`influxd: creating the admin user failed (HTTP ${res.status}): ${body}`);
  }
}

export interface InfluxdOptions {
  /** Holds meta/, data/, wal/, the config file and influxd.log. */
  dir: string;
  httpPort: number;
  /** The RPC (backup/restore) port: 8088 by default, so two instances clash unless each has its own. */
  rpcPort: number;
  auth: boolean;
  readyTimeoutMs?: number;
}

export interface InfluxdProcess {
  url: string;
  /** SIGTERM, wait for the exit (SIGKILL after 15 s). Data is kept. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. Data is kept. */
  kill(): Promise<void>;
  /** Stops (if running) and starts again on the same ports and data. */
  restart(): Promise<void>;
}

/**
 * Runs influxd 1.x on loopback with its own directory and ports, and waits
 * until /ping answers. Used by the test harness (temp dir, free ports) and by
 * `skjold start` when no InfluxDB answers (data dir, configured port).
 */
export async function runInfluxd(options: InfluxdOptions): Promise<InfluxdProcess> {
  const binary = influxdBinary();
  const configFile = join(options.dir, 'influxdb.conf');
  writeFileSync(configFile, influxdConfig(options));
  const url = `http://127.0.0.1:${options.httpPort}`;
  let proc: ServerProcess | undefined;

  const launch = async (): Promise<void> => {
    const started = spawnServer(binary, ['run', '-config', configFile], {
      name: 'influxd',
      logFile: join(options.dir, 'influxd.log'),
      env: influxdEnv(),
      cwd: options.dir,
    });
    proc = started;
    await waitUntil(() => influxPing(url), {
      what: `influxd on ${url}`,
      timeoutMs: options.readyTimeoutMs ?? 20_000,
      process: started,
    });
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    if (proc) await proc.stop(signal, 15_000);
  };

  await launch();
  return {
    url,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM');
      await launch();
    },
  };
}
