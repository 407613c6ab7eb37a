/**
 * How Skjold's long-running processes (`skjold start`, `skjold writer`) set up
 * the runtime under them, measured with `npm run bench` (benchmarks/README.md,
 * "Memory"). The allocator and V8 read their settings once, at start, so
 * `bin/skjold.ts` re-execs itself with them (same pid, stdio and signals).
 */

import { existsSync } from 'node:fs';

/**
 * Where distributions install jemalloc 5 (Debian's and Ubuntu's libjemalloc2,
 * then Fedora's and Arch's), first found wins.
 */
export const JEMALLOC_PATHS: readonly string[] = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
];

/**
 * jemalloc hands freed pages back to the system a second after they fall idle
 * (a background thread purges them). Under glibc's malloc the buffers of a
 * busy spell stayed resident once freed, in its main heap and thread arenas:
 * the process did not shrink again after a backlog (benchmarks/README.md,
 * "Memory").
 */
export const JEMALLOC_CONF = 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0';

/**
 * The environment a tuned process starts with. jemalloc where it is installed,
 * preloaded for the whole process. Without it, glibc with a fixed mmap
 * threshold: scrypt (device secrets, sign-in passwords) takes 16 MiB per call
 * on libuv's thread pool; glibc serves the first from mmap and returns it on
 * free, but then raises its mmap threshold to that size, so every later call
 * is carved from the thread's heap arena, which keeps it (after registering
 * and authenticating a fleet the process held ~100 MiB more than it used). A
 * fixed threshold (which also turns the raising off) keeps large blocks on
 * mmap and hands them back on free.
 */
export function runtimeEnv(exists: (path: string) => boolean = existsSync): Record<string, string> {
  const jemalloc = JEMALLOC_PATHS.find((path) => exists(path));
  if (jemalloc) return { LD_PRELOAD: jemalloc, MALLOC_CONF: JEMALLOC_CONF };
  return { MALLOC_MMAP_THRESHOLD_: String(1024 * 1024) };
}

export const RUNTIME_ENV: Readonly<Record<string, string>> = runtimeEnv();

/**
 * V8 sizes its young generation from the machine's memory: 2 × 64 MiB on a
 * 24 GiB host, all of it touched as it cycles. Once the per-message path
 * allocated ~7 KB instead of ~15 KB, 2 × 32 MiB held 70–90 MiB less at
 * 25,000–31,000 msg/s for 1–6 µs more CPU per message and 3–6 % of the time
 * in GC pauses. 2 × 16 MiB held less still, but its pauses reached 10–20 % of
 * the time above 25,000 msg/s and cost throughput (benchmarks/README.md,
 * "Memory").
 *
 * After each full collection V8 lets the old generation grow to a multiple of
 * what survived before it collects again, a factor it picks from how fast it
 * collects against how fast the process allocates (up to 4×). With ~70 MiB
 * live at 30,000 msg/s that headroom was garbage held resident.
 * `--heap-growing-percent=100` sets the factor to 2: in alternating runs at
 * 30,000 and 32,000 msg/s, peaks of 352–366 MiB against 388–414, and 389–419
 * against 480–501 where a step had failed, for the same CPU per message and
 * no more time in GC pauses (benchmarks/README.md, "Memory").
 */
export const RUNTIME_NODE_OPTIONS: readonly string[] = [
  '--max-semi-space-size=32',
  '--heap-growing-percent=100',
];

/** The option's name, `--max-semi-space-size` of `--max-semi-space-size=16`. */
const optionName = (option: string): string => option.split('=')[0] as string;

/** Whether the user already chose this V8 option, on the command line or in NODE_OPTIONS. */
function chosen(option: string, execArgv: readonly string[], nodeOptions: string): boolean {
  const name = optionName(option);
  const alternate = name.replaceAll('-', '_').replace(/^__/, '--');
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => {
    const n = optionName(a);
    return n === name || n === alternate;
  });
}

/** The node options a tuned process starts with: the user's, then ours where the user chose none. */
export function tunedExecArgv(execArgv: readonly string[], nodeOptions = ''): string[] {
  return [...RUNTIME_NODE_OPTIONS.filter((o) => !chosen(o, execArgv, nodeOptions)), ...execArgv];
}

/**
 * Replaces this process by the same command with `RUNTIME_ENV` and
 * `RUNTIME_NODE_OPTIONS`, unless they are in place; what the user set wins
 * (an `LD_PRELOAD` of their own, even an empty one, keeps jemalloc out).
 * Returns only when nothing had to change or the platform cannot exec (then
 * Skjold runs with glibc's and V8's defaults).
 */
export function reexecTuned(): void {
  if (process.platform !== 'linux' || typeof process.execve !== 'function') return;
  const execArgv = tunedExecArgv(process.execArgv, process.env.NODE_OPTIONS);
  const envInPlace = Object.keys(RUNTIME_ENV).every((k) => process.env[k] !== undefined);
  if (envInPlace && execArgv.length === process.execArgv.length) return;
  try {
    process.execve(process.execPath, [process.execPath, ...execArgv, ...process.argv.slice(1)], {
      ...RUNTIME_ENV,
      ...process.env,
    });
  } catch {
    // Not replaced (e.g. a sandbox forbids exec): Skjold runs as it is, with glibc's and V8's defaults.
  }
}
