/**
 * How Skjold's long-running processes (`skjold start`, `skjold writer`) set up
 * the runtime under them, measured with `npm run bench` (benchmarks/README.md,
 * "Memory"). glibc reads its settings once, at exec, so `bin/skjold.ts`
 * re-execs itself with them (same pid, stdio and signals).
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
 * Replaces this process by the same command with `RUNTIME_ENV`, unless it is
 * in place; what the user set wins. Returns only when nothing had to change
 * or the platform cannot exec (then Skjold runs with glibc's defaults).
 */
export function reexecTuned(): void {
  if (process.platform !== 'linux' || typeof process.execve !== 'function') return;
  if (Object.keys(RUNTIME_ENV).every((k) => process.env[k] !== undefined)) return;
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      ...RUNTIME_ENV,
      ...process.env,
    });
  } catch {
    // Not replaced (e.g. a sandbox forbids exec): Skjold runs as it is, with glibc's defaults.
  }
}
