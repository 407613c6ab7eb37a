/**
 * Per-process CPU and memory from /proc, sampled every 250 ms while a phase
 * runs: CPU time (utime + stime) turns into cores used on average, VmRSS into
 * a peak. The whole machine's busy share comes from /proc/stat, so a reader
 * can tell whether the two cores were the limit.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface ProcessUsage {
  pid: number;
  /** CPU cores used on average over the phase (1 = one core fully busy). */
  cpuCoresAvg: number;
  /** Busiest 1-second window, in cores. */
  cpuCoresPeak1s: number;
  /**
   * The main thread alone (for node: the event loop, where JS runs; GC helpers
   * and libuv's pool are other threads). Near 1.0 means the process is saturated.
   */
  mainThreadCoresAvg: number;
  rssPeakMiB: number;
  /** Mean of the samples: steadier than the end's single reading, which catches buffers mid-flight. */
  rssMeanMiB: number;
  rssEndMiB: number;
}

export interface PhaseUsage {
  durationS: number;
  /** Share of all cores busy (user + system + irq), 0–1. */
  machineBusy: number;
  /**
   * Cores spent in interrupt and softirq context, charged to no process:
   * on loopback that is mostly the TCP traffic between the benchmark's own
   * processes, so part of the cost of what is measured.
   */
  kernelIrqCores: number;
  /**
   * Cores used by processes not listed in `processes`. Above ~0.2 something
   * else was running and the figures understate what the machine can do.
   */
  otherCores: number;
  /** Cores the hypervisor gave to someone else while we wanted them (a virtual machine's noisy neighbours). */
  stealCores: number;
  processes: Record<string, ProcessUsage>;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime in seconds of a process (or, with `tid`, one of its threads); undefined when gone. */
export function cpuSeconds(pid: number, tid?: number): number | undefined {
  try {
    const stat = readFileSync(
      tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`,
      'utf8',
    );
    // Fields after the command name, which may contain spaces and ends with ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of the whole line
  } catch {
    return undefined;
  }
}

export function rssMiB(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface MachineTicks {
  busy: number;
  irq: number;
  steal: number;
  total: number;
}

export function machineTicks(): MachineTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // user nice system idle iowait irq softirq steal
  const n = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return { busy: total - idle, irq: (n[5] ?? 0) + (n[6] ?? 0), steal: n[7] ?? 0, total };
}

/** Pid of the process whose command line contains `needle` (e.g. influxd's config path). */
export function findPid(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch {
      // Gone between readdir and read.
    }
  }
  return undefined;
}

interface Sample {
  /** Epoch ms. */
  t: number;
  cpu: number;
  main: number;
  rss: number;
}

interface Track {
  pid: number;
  samples: Sample[];
}

export interface Sampler {
  /** Stops sampling; usage over [from, to] (epoch ms) when given, else over the whole time sampled. */
  stop(window?: { from: number; to: number }): PhaseUsage;
}

export function startSampler(pids: Record<string, number>, intervalMs = 250): Sampler {
  const tracks = new Map<string, Track>();
  for (const [name, pid] of Object.entries(pids)) tracks.set(name, { pid, samples: [] });
  const machine: Array<MachineTicks & { t: number }> = [];
  const sample = (): void => {
    const t = Date.now();
    machine.push({ t, ...machineTicks() });
    for (const track of tracks.values()) {
      const cpu = cpuSeconds(track.pid);
      if (cpu !== undefined) {
        track.samples.push({
          t,
          cpu,
          main: cpuSeconds(track.pid, track.pid) ?? 0,
          rss: rssMiB(track.pid) ?? 0,
        });
      }
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop(window) {
      clearInterval(timer);
      sample();
      const inWindow = <T extends { t: number }>(list: T[]): T[] => {
        if (!window) return list;
        // The samples just outside the window too, so the window is covered, not shortened.
        const from = list.findLastIndex((s) => s.t <= window.from);
        const to = list.findIndex((s) => s.t >= window.to);
        return list.slice(Math.max(0, from), to === -1 ? list.length : to + 1);
      };
      const m = inWindow(machine);
      const m0 = m[0];
      const m1 = m.at(-1);
      const total = m0 && m1 ? m1.total - m0.total : 0;
      const processes: Record<string, ProcessUsage> = {};
      for (const [name, track] of tracks) processes[name] = summarise(track.pid, inWindow(track.samples));
      const share = (key: 'busy' | 'irq' | 'steal'): number =>
        total > 0 && m0 && m1 ? (m1[key] - m0[key]) / total : 0;
      const cores = availableParallelism();
      const ours = Object.values(processes).reduce((sum, p) => sum + p.cpuCoresAvg, 0);
      return {
        durationS: round(m0 && m1 ? (m1.t - m0.t) / 1000 : 0, 1),
        machineBusy: round(share('busy'), 3),
        kernelIrqCores: round(share('irq') * cores, 2),
        otherCores: round(Math.max(0, (share('busy') - share('irq') - share('steal')) * cores - ours), 2),
        stealCores: round(share('steal') * cores, 2),
        processes,
      };
    },
  };
}

function summarise(pid: number, samples: Sample[]): ProcessUsage {
  const first = samples[0];
  const last = samples.at(-1);
  let avg = 0;
  let main = 0;
  let peak = 0;
  if (first && last && last.t > first.t) {
    avg = (last.cpu - first.cpu) / ((last.t - first.t) / 1000);
    main = (last.main - first.main) / ((last.t - first.t) / 1000);
    // Busiest window of at least one second.
    let j = 0;
    for (let i = 0; i < samples.length; i++) {
      const end = samples[i] as Sample;
      while (j < i && end.t - (samples[j + 1] as Sample).t >= 1000) j++;
      const start = samples[j] as Sample;
      if (end.t - start.t >= 1000) peak = Math.max(peak, (end.cpu - start.cpu) / ((end.t - start.t) / 1000));
    }
  }
  return {
    pid,
    cpuCoresAvg: round(avg, 2),
    cpuCoresPeak1s: round(peak, 2),
    mainThreadCoresAvg: round(main, 2),
    rssPeakMiB: round(Math.max(0, ...samples.map((s) => s.rss)), 0),
    rssMeanMiB: round(samples.length ? samples.reduce((sum, s) => sum + s.rss, 0) / samples.length : 0, 0),
    rssEndMiB: round(last?.rss ?? 0, 0),
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Cores the whole machine was busy between two readings of `machineTicks`. */
export function busyCores(a: MachineTicks, b: MachineTicks): number {
  const total = b.total - a.total;
  return total > 0 ? ((b.busy - a.busy) / total) * availableParallelism() : 0;
}

/** Cores busy on the whole machine over `ms`: what runs besides the benchmark before it starts. */
export async function machineCores(ms: number): Promise<number> {
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  return round(busyCores(a, machineTicks()), 2);
}
