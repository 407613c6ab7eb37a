/**
 * Devices do not slow down when the server's machine is busy, but a load
 * generator sharing two cores with the server does: its 10 ms ticks arrive
 * late and it catches up in bursts. A higher priority keeps the offered load
 * on schedule without giving the generator more CPU than it needs. Needs
 * CAP_SYS_NICE (root); without it the generator runs at normal priority.
 */
import { getPriority, setPriority } from 'node:os';

const LOAD_NICE = -10;

/** Raises the load generator's priority; returns its nice value. */
export function prioritise(pid: number): number {
  try {
    setPriority(pid, LOAD_NICE);
    return getPriority(pid);
  } catch {
    process.stderr.write('note: could not raise the load generator’s priority; expect burstier load\n');
    return getPriority(pid);
  }
}
