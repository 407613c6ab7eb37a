/**
 * How Skjold's long-running processes (`skjold start`, `skjold writer`) set up
 * the runtime under them, measured with `npm run bench` (benchmarks/README.md,
 * "Memory"). glibc and V8 read their settings once, at start, so
 * `bin/skjold.ts` re-execs itself with them (same pid, stdio and signals).
 */

/**
 * scrypt (device secrets, sign-in passwords) takes 16 MiB per call on libuv's
 * thread pool. glibc serves the first from mmap and returns it on free, but
 * then raises its mmap threshold to that size, so every later call is carved
 * from the thread's heap arena, which keeps it: after registering and
 * authenticating a fleet the process held ~100 MiB more than it used. A fixed
 * threshold (which also turns the raising off) keeps large blocks on mmap and
 * hands them back on free.
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: String(1024 * 1024) };

/**
 * V8 sizes its young generation from the machine's memory: 2 × 64 MiB on a
 * 24 GiB host, all of it touched as it cycles. Once the per-message path
 * allocated ~7 KB instead of ~15 KB, 2 × 32 MiB held 70–90 MiB less at
 * 25,000–31,000 msg/s for 1–6 µs more CPU per message and 3–6 % of the time
 * in GC pauses. 2 × 16 MiB held less still, but its pauses reached 10–20 % of
 * the time above 25,000 msg/s and cost throughput (benchmarks/README.md,
 * "Memory").
 */
export const RUNTIME_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=32'];

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
 * `RUNTIME_NODE_OPTIONS`, unless they are in place; what the user set wins.
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
