import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ServerProcess, spawnServer, waitUntil } from '../../lib/process/server-process.ts';
import { freePorts } from './free-port.ts';

const BIN = join(import.meta.dirname, '../../bin/skjold.ts');

export interface SkjoldProcess {
  id: string;
  mqttPort: number;
  apiUrl: string;
  dataDir: string;
  /** The running process (replaced by restart()). */
  readonly proc: ServerProcess;
  /** SIGKILL: a crash. Resolves once the process is gone; the data dir stays. */
  kill(): Promise<void>;
  /** Starts again on the same ports and data dir, and waits for /readyz. */
  restart(): Promise<void>;
  /** SIGTERM, the orderly shutdown; SIGKILL after 20 s. */
  stop(): Promise<void>;
  /** The last part of its log, for failure messages. */
  logTail(): string;
}

async function ready(apiUrl: string): Promise<boolean> {
  const res = await fetch(new URL('/readyz', apiUrl), { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status === 200;
}

/**
 * `skjold start` as its own process (what a container runs), on free ports
 * on 127.0.0.1, with `env` on top of the parent's environment, its log in
 * `<dataDir>/skjold.log`. Resolves when /readyz answers 200.
 */
export async function startSkjoldProcess(options: {
  id: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
}): Promise<SkjoldProcess> {
  const { id, dataDir } = options;
  mkdirSync(dataDir, { recursive: true });
  const [mqttPort, apiPort] = await freePorts(2);
  if (mqttPort === undefined || apiPort === undefined) throw new Error('skjold: could not allocate ports');
  const apiUrl = `${options.env.SKJOLD_API_TLS_CERT ? 'https' : 'http'}://127.0.0.1:${apiPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    SKJOLD_INSTANCE_ID: id,
    SKJOLD_DATA_DIR: dataDir,
    SKJOLD_MQTT_HOST: '127.0.0.1',
    SKJOLD_MQTT_PORT: String(mqttPort),
    SKJOLD_API_HOST: '127.0.0.1',
    SKJOLD_API_PORT: String(apiPort),
  };

  let proc: ServerProcess;
  const launch = async (): Promise<void> => {
    proc = spawnServer(process.execPath, [BIN, 'start'], {
      name: `skjold ${id}`,
      logFile: join(dataDir, 'skjold.log'),
      env,
      cwd: join(import.meta.dirname, '../..'),
    });
    await waitUntil(() => ready(apiUrl), {
      what: `skjold ${id} /readyz`,
      timeoutMs: 60_000,
      intervalMs: 100,
      process: proc,
    });
  };
  await launch();

  return {
    id,
    mqttPort,
    apiUrl,
    dataDir,
    get proc() {
      return proc;
    },
    async kill() {
      await proc.stop('SIGKILL', 5_000);
    },
    async restart() {
      await proc.stop('SIGTERM', 20_000);
      await launch();
    },
    async stop() {
      await proc.stop('SIGTERM', 20_000);
    },
    logTail: () => proc.logTail(),
  };
}
