import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExit } from '../../lib/process/exit-cleanup.ts';
import { findBinary } from '../../lib/process/find-binary.ts';
import { spawnServer, waitUntil } from '../../lib/process/server-process.ts';
import { freePort } from './free-port.ts';

export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Temp dir holding the log; gone after stop(). */
  dir: string;
  /** SIGTERM, wait for exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const DEBIAN_HINT =
  'Redis is required: install the Debian package `redis-server` (apt-get install redis-server), ' +
  'which scripts/setup.sh does on a fresh machine.';

/** PING over a raw socket: true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/**
 * Starts a private redis-server on 127.0.0.1 at a free port, in a temp dir,
 * with nothing written to disk (no RDB snapshots, no AOF): test state only.
 */
export async function startRedis(options: { readyTimeoutMs?: number } = {}): Promise<RedisServer> {
  const binary = findBinary('redis-server', {
    extraDirs: ['/usr/bin', '/usr/sbin'],
    installHint: DEBIAN_HINT,
  });
  const dir = mkdtempSync(join(tmpdir(), 'skjold-redis-'));
  const unregisterDir = onExit(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const proc = spawnServer(
    binary,
    [
      ['--port', String(port)],
      ['--bind', '127.0.0.1'],
      ['--dir', dir],
      ['--save', ''],
      ['--appendonly', 'no'],
      ['--daemonize', 'no'],
      ['--loglevel', 'warning'],
    ].flat(),
    { name: 'redis-server', logFile: join(dir, 'redis.log'), cwd: dir },
  );
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await proc.stop('SIGTERM', 10_000);
    rmSync(dir, { recursive: true, force: true });
    unregisterDir();
  };
  try {
    await waitUntil(() => ping(port), {
      what: `redis-server on 127.0.0.1:${port}`,
      timeoutMs: options.readyTimeoutMs ?? 15_000,
      process: proc,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${port}`, port, dir, stop };
}
