import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { onExit } from '../../lib/process/exit-cleanup.ts';
import { findBinary, versionDirs } from '../../lib/process/find-binary.ts';
import { spawnServer, waitUntil } from '../../lib/process/server-process.ts';
import { freePort } from './free-port.ts';

export interface StartPostgresOptions {
  /** Database created for the test. Default 'skjold'. */
  database?: string;
  /** Deadline for the server to accept connections. */
  readyTimeoutMs?: number;
}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/<database> (trust auth on loopback). */
  url: string;
  database: string;
  port: number;
  /** Temp dir holding the cluster, socket and log; gone after stop(). */
  dataDir: string;
  /** Fast shutdown, wait for exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

const DEBIAN_HINT =
  'PostgreSQL is required: install the Debian package `postgresql` (apt-get install postgresql), ' +
  'which scripts/setup.sh does on a fresh machine.';

/** initdb and postgres of the same installation, from PATH or /usr/lib/postgresql/<version>/bin. */
export function postgresBinaries(): PostgresBinaries {
  const extraDirs = versionDirs('/usr/lib/postgresql').map((d) => join(d, 'bin'));
  const postgres = findBinary('postgres', { extraDirs, installHint: DEBIAN_HINT });
  // initdb must match the server's major version: take it from beside the real binary.
  const initdb = findBinary('initdb', {
    searchPath: dirname(realpathSync(postgres)),
    extraDirs,
    installHint: DEBIAN_HINT,
  });
  return { initdb, postgres };
}

/** PostgreSQL refuses to run as root; as root we run it as this user (Debian's `postgres`, else `nobody`). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      // Try the next user.
    }
  }
  throw new Error('running as root but neither user `postgres` nor `nobody` exists to run PostgreSQL as');
}

/** The environment minus PG* variables, which initdb, postgres and libpq would pick up. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  return env;
}

async function query(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {}); // reported through the rejected promise instead
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * initdb into a temp dir, start postgres on 127.0.0.1 at a free port (unix
 * socket in the temp dir, fsync off: test data needs no durability), wait
 * until it answers a query, create a database.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const database = options.database ?? 'skjold';
  const { initdb, postgres } = postgresBinaries();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'skjold-postgres-'));
  const unregisterDir = onExit(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  mkdirSync(socketDir);
  if (user) for (const d of [dir, socketDir]) chownSync(d, user.uid, user.gid);
  const env = cleanEnv();

  let stopped = false;
  let halt = async (): Promise<void> => {};
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await halt();
    rmSync(dir, { recursive: true, force: true });
    unregisterDir();
  };

  try {
    try {
      await promisify(execFile)(
        initdb,
        [
          '-D',
          dataDir,
          '-U',
          'postgres',
          '-A',
          'trust',
          '-E',
          'UTF8',
          '--no-locale',
          '--no-sync',
          '--no-instructions',
        ],
        { env, cwd: dir, uid: user?.uid, gid: user?.gid },
      );
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`initdb failed: ${stderr.trim() || String(err)}`, { cause: err });
    }

    const port = await freePort();
    const proc = spawnServer(
      postgres,
      [
        ['-D', dataDir],
        ['-p', String(port)],
        ['-k', socketDir],
        ['-c', 'listen_addresses=127.0.0.1'],
        ['-c', 'fsync=off'],
        ['-c', 'synchronous_commit=off'],
        ['-c', 'full_page_writes=off'],
        ['-c', 'log_min_messages=warning'],
      ].flat(),
      { name: 'postgres', logFile: join(dir, 'postgres.log'), env, cwd: dir, uid: user?.uid, gid: user?.gid },
    );
    // SIGINT is PostgreSQL's "fast" shutdown: it ends open sessions instead of waiting for them.
    halt = async () => {
      await proc.stop('SIGINT', 15_000);
    };
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitUntil(() => query(adminUrl, 'select 1').then(() => true), {
      what: `postgres on 127.0.0.1:${port}`,
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      process: proc,
    });
    await query(adminUrl, `CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    return {
      url: `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      database,
      port,
      dataDir: dir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
