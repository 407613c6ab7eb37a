/**
 * Request/response over a forked child's IPC channel, so the runner can drive
 * each process (Skjold, broker, subscriber, load generator) and still have
 * its CPU and memory to itself: one pid per role.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { onExit } from '../lib/process/exit-cleanup.ts';

interface Request {
  id: number;
  cmd: string;
  arg: unknown;
}

type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type Handlers = Record<string, (arg: never) => unknown>;

/** In a child: answers the runner's requests with `handlers`; exits when the runner goes away. */
export function serveIpc(handlers: Handlers): void {
  if (!process.send) throw new Error('this file is a benchmark child process: start it with `npm run bench`');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: Request) => {
    const handler = handlers[message.cmd] as ((arg: unknown) => unknown) | undefined;
    const reply = (response: Response): void => {
      process.send?.(response);
    };
    if (!handler) return reply({ id: message.id, ok: false, error: `unknown command ${message.cmd}` });
    Promise.resolve()
      .then(() => handler(message.arg))
      .then(
        (result) => reply({ id: message.id, ok: true, result }),
        (err: unknown) =>
          reply({
            id: message.id,
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          }),
      );
  });
}

export interface Child {
  name: string;
  pid: number;
  call<T>(cmd: string, arg?: unknown): Promise<T>;
  /** Why the process failed (exit code ≠ 0, with the start of its stderr), or null while it runs or after a clean stop. */
  exitReason(): string | null;
  /** Closes the channel (the child exits), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Forks `file` with the runner's own node binary; structured-clone serialisation (Maps pass as is). */
export function forkChild(
  name: string,
  file: string,
  execArgv: string[] = [],
  env: Record<string, string> = {},
): Child {
  const child: ChildProcess = fork(file, [], {
    execPath: process.execPath,
    execArgv: [...process.execArgv, ...execArgv],
    env: { ...process.env, ...env },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  // Passed through, and the start kept: a crash's cause goes into the error (and the results file).
  let stderrHead = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(`[${name}] ${chunk.toString().replace(/\n(?=.)/g, `\n[${name}] `)}`);
    if (stderrHead.length < 1500) stderrHead = (stderrHead + chunk.toString()).slice(0, 1500);
  });
  child.on('error', () => {}); // a send on a closed channel; the exit handler reports it
  const unregister = onExit(() => child.kill('SIGKILL'));
  // 'exit', not 'close': a child's stderr pipe can outlive it (seen after aedes crashed), and 'close' waits for it.
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (message: Response) => {
    const p = pending.get(message.id);
    if (!p) return;
    pending.delete(message.id);
    if (message.ok) p.resolve(message.result);
    else p.reject(new Error(`${name}: ${message.error}`));
  });
  const exitError = (): Error =>
    new Error(
      `${name} exited (code ${exit?.code}, signal ${exit?.signal})${stderrHead ? `: ${stderrHead.trim()}` : ''}`,
    );
  child.once('exit', (code, signal) => {
    exit = { code, signal };
    // Give the last of stderr a moment to arrive, so the error carries the crash's cause.
    setTimeout(() => {
      for (const p of pending.values()) p.reject(exitError());
      pending.clear();
    }, 100);
  });
  if (child.pid === undefined) throw new Error(`${name}: fork failed`);
  return {
    name,
    pid: child.pid,
    call<T>(cmd: string, arg?: unknown): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        if (exit || !child.connected) return reject(exit ? exitError() : new Error(`${name}: not connected`));
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, cmd, arg } satisfies Request);
      });
    },
    // Exited by itself with a failure, not by stop() (which makes it exit 0, or SIGKILLs it).
    exitReason: () => (exit && exit.code !== 0 && exit.signal !== 'SIGKILL' ? exitError().message : null),
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        if (child.connected) child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      unregister();
    },
  };
}
