import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { onExit } from './exit-cleanup.ts';

export interface SpawnServerOptions {
  /** Name used in error messages, e.g. 'influxd'. */
  name: string;
  /** stdout and stderr are appended here (a file, not a pipe: nothing to drain, nothing keeps the loop alive). */
  logFile: string;
  /**
   * The child's whole environment. Default: this process's, secrets and all;
   * a server Skjold runs for users gets only what it needs (store/influxd/server.ts).
   */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (needed for PostgreSQL, which refuses to run as root). */
  uid?: number;
  gid?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  readonly pid: number;
  /** Resolves when the process has exited, however that happened. */
  readonly exited: Promise<ExitInfo>;
  hasExited(): boolean;
  /** Last `maxChars` of the process's log, for error messages. */
  logTail(maxChars?: number): string;
  /** Sends `signal`, waits for exit; SIGKILL if still running after `graceMs`. */
  stop(signal: NodeJS.Signals, graceMs: number): Promise<ExitInfo>;
}

/**
 * Spawns a long-running server whose output goes to `logFile`. The child is
 * unref'd so a test that forgets `stop()` does not hang; the exit hook kills it.
 */
export function spawnServer(
  binary: string,
  args: readonly string[],
  options: SpawnServerOptions,
): ServerProcess {
  const logFd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, {
      stdio: ['ignore', logFd, logFd],
      env: options.env ?? process.env,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
    });
  } finally {
    closeSync(logFd);
  }
  child.unref();

  let exitInfo: ExitInfo | undefined;
  let spawnError: Error | undefined;
  const unregister = onExit(() => {
    if (exitInfo === undefined) child.kill('SIGKILL');
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    const finish = (info: ExitInfo): void => {
      if (exitInfo !== undefined) return;
      exitInfo = info;
      unregister();
      resolve(info);
    };
    child.once('exit', (code, signal) => finish({ code, signal }));
    // A failed spawn (ENOENT, EACCES) emits 'error' and possibly no 'exit'.
    child.once('error', (err) => {
      spawnError = err;
      finish({ code: null, signal: null });
    });
  });

  const logTail = (maxChars = 4000): string => {
    try {
      const text = readFileSync(options.logFile, 'utf8');
      const tail = text.length > maxChars ? `…${text.slice(-maxChars)}` : text;
      return spawnError ? `failed to spawn ${binary}: ${spawnError.message}\n${tail}` : tail;
    } catch {
      return '';
    }
  };

  return {
    get pid() {
      return child.pid ?? -1;
    },
    exited,
    hasExited: () => exitInfo !== undefined,
    logTail,
    async stop(signal, graceMs) {
      if (exitInfo !== undefined) return exitInfo;
      child.ref(); // keep the event loop alive while we wait for the exit
      try {
        child.kill(signal);
        const timeout = delay(graceMs, 'timeout' as const, { ref: false });
        if ((await Promise.race([exited, timeout])) === 'timeout') child.kill('SIGKILL');
        return await exited;
      } finally {
        child.unref();
      }
    },
  };
}

export interface WaitUntilOptions {
  /** What we are waiting for, for the error message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** The server being waited on: if it exits, fail at once with its log. */
  process?: ServerProcess;
}

/**
 * Polls `ready` until it returns true, with a deadline. This is a readiness
 * check, not a sleep: it returns as soon as the condition holds.
 */
export async function waitUntil(ready: () => Promise<boolean>, options: WaitUntilOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const proc = options.process;
    if (proc?.hasExited()) {
      const info = await proc.exited;
      throw new Error(
        `${options.what}: process exited (code ${info.code}, signal ${info.signal}) before it was ready.\n` +
          `--- log ---\n${proc.logTail()}`,
      );
    }
    try {
      if (await ready()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${options.what}: not ready after ${options.timeoutMs} ms.` +
          (proc ? `\n--- log ---\n${proc.logTail()}` : ''),
        { cause: lastError },
      );
    }
    await delay(options.intervalMs ?? 25);
  }
}
