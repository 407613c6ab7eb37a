import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExit } from '../../lib/process/exit-cleanup.ts';
import { createInfluxV1Store } from '../../store/influx-v1.ts';
import { createInfluxAdmin, type InfluxdProcess, runInfluxd } from '../../store/influxd/server.ts';
import type { TelemetryStore } from '../../store/telemetry-store.ts';
import { freePorts } from './free-port.ts';

export { influxdBinary } from '../../store/influxd/server.ts';

export interface StartInfluxdOptions {
  /** `[http] auth-enabled`, and an admin user created. Default true: per-tenant users mean nothing without it. */
  auth?: boolean;
  /** Deadline for /ping to answer 204. */
  readyTimeoutMs?: number;
}

export interface InfluxdServer {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Admin credentials ('' when auth is off). */
  adminUser: string;
  adminPassword: string;
  /** Root of meta/, data/ and wal/. */
  dataDir: string;
  /** SIGTERM, wait for exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL (a crash, for fault tests); resolves once the process is gone. Data is kept. */
  kill(): Promise<void>;
  /** Stops the process (if running), keeps the data, starts again on the same ports. */
  restart(): Promise<void>;
}

/**
 * Starts a private influxd with its own temp dir and free HTTP and RPC ports,
 * waits for /ping, and (with auth) creates an admin user.
 */
export async function startInfluxd(options: StartInfluxdOptions = {}): Promise<InfluxdServer> {
  const auth = options.auth ?? true;
  const dir = mkdtempSync(join(tmpdir(), 'skjold-influxd-'));
  const unregisterDir = onExit(() => rmSync(dir, { recursive: true, force: true }));
  const [httpPort, rpcPort] = await freePorts(2);
  if (httpPort === undefined || rpcPort === undefined) throw new Error('influxd: could not allocate ports');
  const adminUser = auth ? 'admin' : '';
  const adminPassword = auth ? randomBytes(12).toString('hex') : '';

  let proc: InfluxdProcess | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
    unregisterDir();
  };

  try {
    proc = await runInfluxd({
      dir,
      httpPort,
      rpcPort,
      auth,
      ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
    });
    if (auth) await createInfluxAdmin(proc.url, adminUser, adminPassword);
  } catch (err) {
    await stop();
    throw err;
  }
  const running = proc;

  return {
    url: running.url,
    adminUser,
    adminPassword,
    dataDir: dir,
    stop,
    kill: () => running.kill(),
    async restart() {
      if (stopped) throw new Error('influxd: restart() after stop()');
      await running.restart();
    },
  };
}

/** A store client with the admin credential of a harness influxd. */
export function adminStore(server: InfluxdServer): TelemetryStore {
  return createInfluxV1Store({ url: server.url, username: server.adminUser, password: server.adminPassword });
}
