/**
 * glibc's allocator settings for Skjold's long-running processes.
 *
 * scrypt (device secrets, sign-in passwords) takes 16 MiB per call on libuv's
 * thread pool. glibc serves the first from mmap and returns it on free, but
 * then raises its mmap threshold to that size, so every later call is carved
 * from the thread's heap arena, which keeps it: after registering and
 * authenticating a fleet the process held ~100 MiB more than it used. A fixed
 * threshold (which also turns the raising off) keeps large blocks on mmap and
 * hands them back on free. Read by glibc once, at exec.
 */
export const MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(1024 * 1024),
};

/**
 * Replaces this process (same pid, stdio and signals) by the same command
 * with `MALLOC_TUNING` in its environment, unless it is there already or set
 * by the user. Returns only when nothing had to change or the platform cannot.
 */
export function reexecWithMallocTuning(): void {
  if (process.platform !== 'linux' || typeof process.execve !== 'function') return;
  if (Object.keys(MALLOC_TUNING).every((k) => process.env[k] !== undefined)) return;
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    ...MALLOC_TUNING,
    ...process.env,
  });
}
