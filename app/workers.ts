import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Config } from '../lib/config.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';

/** What the primary tells a worker when it forks it (IPC, not the environment: config.ts reads that). */
export interface WorkerAssignment {
  type: 'skjold-worker';
  index: number;
  /** Settings the primary decided (a managed influxd's address and credentials). */
  overrides: Partial<Config>;
}

/** What a worker tells the primary once it listens. */
export interface WorkerReady {
  type: 'skjold-ready';
  index: number;
  mqttPort: number;
  apiPort: number;
  /** Worker 0's one-time console sign-in path (`/login#code=…`). */
  signIn?: string;
}

/**
 * Several worker processes on one host are several Skjold instances
 * (docs/architecture.md, "Several instances") that share their ports through
 * node:cluster: what instances must share, workers must share too. So
 * SKJOLD_WORKERS > 1 needs PostgreSQL (PGlite is one process's database),
 * Redis (commands, sessions and takeover for a device that reconnects to
 * another worker) and SKJOLD_KEYS (a key rotated in one worker's key file
 * would give the others other pseudonyms).
 */
export function checkWorkersConfig(config: Config): void {
  if (config.SKJOLD_WORKERS <= 1) return;
  const missing = [
    config.DATABASE_URL ? undefined : 'DATABASE_URL (PGlite cannot be shared by several processes)',
    config.SKJOLD_REDIS_URL ? undefined : 'SKJOLD_REDIS_URL (workers share MQTT sessions and commands)',
    config.SKJOLD_KEYS ? undefined : 'SKJOLD_KEYS (every worker must pseudonymise with the same keys)',
  ].filter((m): m is string => m !== undefined);
  if (missing.length > 0) {
    throw new SkjoldError(
      'SKJOLD_ERR_CONFIG',
      `SKJOLD_WORKERS=${config.SKJOLD_WORKERS} needs ${missing.join(', ')}`,
    );
  }
}

/**
 * Worker `index`'s own settings: its instance id, its own spool directory
 * (one process per spool: transport/spool-lock.ts) and audit anchor; only
 * worker 0 runs the retention schedule.
 */
export function workerConfig(config: Config, index: number): Config {
  const n = index + 1;
  return Object.freeze({
    ...config,
    SKJOLD_INSTANCE_ID: `${config.SKJOLD_INSTANCE_ID}-w${n}`,
    SKJOLD_SPOOL_DIR: join(config.SKJOLD_SPOOL_DIR, `w${n}`),
    SKJOLD_AUDIT_ANCHOR_FILE: config.SKJOLD_AUDIT_ANCHOR_FILE.replace(/(\.json)?$/, `-w${n}$1`),
    SKJOLD_RETENTION_SCHEDULE: index === 0 ? config.SKJOLD_RETENTION_SCHEDULE : 'off',
  });
}

/** In a worker: waits for the primary's assignment. */
export async function assignment(): Promise<WorkerAssignment> {
  for (;;) {
    const [message] = (await once(process, 'message')) as [WorkerAssignment];
    if (message?.type === 'skjold-worker') return message;
  }
}

export function reportReady(ready: Omit<WorkerReady, 'type'>): void {
  process.send?.({ type: 'skjold-ready', ...ready } satisfies WorkerReady);
}

/**
 * The primary: forks `config.SKJOLD_WORKERS` workers, each told its index,
 * and resolves with the first worker's ports once every worker listens. A
 * worker that dies is forked again on the same index — its spool is replayed
 * from its checkpoint. `stop()` sends SIGTERM to every worker and waits for
 * them (each stops in the order that loses nothing, as one process does).
 */
export async function forkWorkers(config: Config, overrides: Partial<Config>, logger: Logger) {
  let stopping = false;
  const workers = new Map<number, Worker>();
  const ready = new Map<number, WorkerReady>();
  let onReady: (() => void) | undefined;

  function fork(index: number): void {
    const worker = cluster.fork();
    workers.set(index, worker);
    worker.on('online', () =>
      worker.send({ type: 'skjold-worker', index, overrides } satisfies WorkerAssignment),
    );
    worker.on('message', (message: WorkerReady) => {
      if (message?.type !== 'skjold-ready') return;
      ready.set(index, message);
      if (ready.size === config.SKJOLD_WORKERS) onReady?.();
    });
    worker.on('exit', (code, signal) => {
      workers.delete(index);
      if (stopping) return;
      logger.error({ worker: index + 1, code, signal }, 'worker died; starting it again on its own spool');
      fork(index);
    });
  }

  const allReady = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  for (let i = 0; i < config.SKJOLD_WORKERS; i++) fork(i);
  await allReady;
  const first = ready.get(0) as WorkerReady;
  return {
    mqttPort: first.mqttPort,
    apiPort: first.apiPort,
    signIn: first.signIn,
    pids: () => [...workers.values()].map((w) => w.process.pid),
    async stop(): Promise<void> {
      stopping = true;
      await Promise.all(
        [...workers.values()].map(async (w) => {
          const exited = once(w, 'exit');
          w.process.kill('SIGTERM');
          await exited;
        }),
      );
    },
  };
}

export const isWorker = (): boolean => cluster.isWorker;
