/**
 * `npm run bench:soak -- --timeline FILE`: the soak second by second, to see
 * what a bad minute's p99 coincided with. Per second (wall clock): the
 * sampled messages sent in it (how many, p50, p99 and max
 * publish-to-queryable ms), the cores the whole machine was busy, Skjold's,
 * influxd's and the load generator's cores, and the compactions influxd had
 * running when the second ended (`/debug/vars`). Written as tab-separated
 * lines once the soak ends.
 */
import { writeFileSync } from 'node:fs';
import { httpdStats } from './influxd-stats.ts';
import { busyCores, cpuSeconds, machineTicks } from './proc-sampler.ts';
import { distribution } from './stats.ts';

interface SecondOfLoad {
  latencies: number[];
  busyCores?: number;
  cores?: Record<string, number>;
  compacting?: string;
}

export interface Timeline {
  /** Sampled messages' publish-to-queryable ms, each with its send time (epoch ms), as sampleLatencies gives them. */
  addLatencies(sentAt: number[], latencies: number[]): void;
  /** Stops sampling and writes the file. */
  finish(): void;
}

export function startTimeline(
  file: string,
  pids: Record<string, number>,
  influxd: { url: string; user: string; password: string },
): Timeline {
  const seconds = new Map<number, SecondOfLoad>();
  const at = (epochMs: number): SecondOfLoad => {
    const key = Math.floor(epochMs / 1000);
    const found = seconds.get(key);
    if (found) return found;
    const fresh: SecondOfLoad = { latencies: [] };
    seconds.set(key, fresh);
    return fresh;
  };
  let previous = { t: Date.now(), machine: machineTicks(), cpu: cpuOf(pids) };
  let polling = false;
  const timer = setInterval(() => {
    const now = { t: Date.now(), machine: machineTicks(), cpu: cpuOf(pids) };
    const second = at(previous.t);
    const dt = (now.t - previous.t) / 1000;
    second.busyCores = busyCores(previous.machine, now.machine);
    second.cores = Object.fromEntries(
      Object.entries(now.cpu).map(([name, s]) => [name, dt > 0 ? (s - (previous.cpu[name] ?? s)) / dt : 0]),
    );
    previous = now;
    if (polling) return; // influxd is slow to answer: this second goes without
    polling = true;
    httpdStats(influxd.url, influxd.user, influxd.password)
      .then(({ compactions }) => {
        const running = Object.entries(compactions).filter(([, c]) => c.running > 0);
        second.compacting =
          running.map(([kind, c]) => (c.running > 1 ? `${kind}×${c.running}` : kind)).join(',') || '-';
      })
      .catch(() => {
        second.compacting = '?';
      })
      .finally(() => {
        polling = false;
      });
  }, 1000);

  return {
    addLatencies(sentAt, latencies) {
      for (const [i, ms] of latencies.entries()) at(sentAt[i] as number).latencies.push(ms);
    },
    finish() {
      clearInterval(timer);
      const names = Object.keys(pids);
      const header = ['time', 'sampled', 'p50', 'p99', 'max', 'busy', ...names, 'compacting'].join('\t');
      const lines = [...seconds.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([key, s]) => {
          const d = distribution(s.latencies);
          const ms = (v: number) => (d.count ? String(v) : '');
          return [
            new Date(key * 1000).toISOString().slice(11, 19),
            d.count,
            ms(d.p50),
            ms(d.p99),
            ms(d.max),
            fixed(s.busyCores),
            ...names.map((n) => fixed(s.cores?.[n])),
            s.compacting ?? '',
          ].join('\t');
        });
      writeFileSync(file, `${header}\n${lines.join('\n')}\n`);
    },
  };
}

function cpuOf(pids: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const s = cpuSeconds(pid);
    if (s !== undefined) out[name] = s;
  }
  return out;
}

const fixed = (v: number | undefined): string => (v === undefined ? '' : v.toFixed(2));
