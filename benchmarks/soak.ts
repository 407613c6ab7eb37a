/**
 * `npm run bench:soak -- [--minutes 20] [--rate R | --capacity C] [--interval-s 60] [--warmup-min 3]
 *  [--skjold SKJOLD_NAME=value …] [--out <file>] [--timeline <file>]`
 *
 * Skjold end to end (the same setup as Phase C) under a steady load at 70 % of
 * its measured capacity for many minutes: does memory creep, does latency
 * drift, is anything lost? One load for the whole run, the fleet connected
 * throughout (soak-load.ts), read every interval. Prints one line per
 * interval and a verdict; writes benchmarks/results/soak.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSettings } from './args.ts';
import { BENCH_TENANTS, type FleetSpec } from './bench-fleet.ts';
import { forkChild } from './ipc.ts';
import { prioritise } from './load-priority.ts';
import { machineInfo } from './machine.ts';
import { startPipeline } from './pipeline-setup.ts';
import { type IntervalRow, reckon, type SoakLoad, soakLoad } from './soak-load.ts';
import { chooseRate, rssSlope, soakVerdict } from './soak-verdict.ts';

const LATEST = new URL('./results/latest.json', import.meta.url).pathname;

function readLatest(): { file: string; achievedRate: number | undefined } | undefined {
  if (!existsSync(LATEST)) return undefined;
  const results = JSON.parse(readFileSync(LATEST, 'utf8')) as {
    phases?: { pipeline?: { sustained?: { achievedRate?: number } | null } | null };
  };
  return {
    file: relative(process.cwd(), LATEST),
    achievedRate: results.phases?.pipeline?.sustained?.achievedRate,
  };
}

const positive = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0)) throw new Error(`--${name} wants a positive number, got ${value}`);
  return n;
};

async function main(): Promise<void> {
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      minutes: { type: 'string', default: '20' },
      rate: { type: 'string' },
      capacity: { type: 'string' },
      'interval-s': { type: 'string', default: '60' },
      'warmup-min': { type: 'string', default: '3' },
      skjold: { type: 'string', multiple: true },
      out: { type: 'string' },
      timeline: { type: 'string' },
    },
    strict: true,
  });
  const minutes = positive('minutes', values.minutes) as number;
  const intervalS = positive('interval-s', values['interval-s']) as number;
  const warmupMin = Number(values['warmup-min']);
  if (!(warmupMin >= 0)) throw new Error('--warmup-min wants a number of minutes, 0 or more');
  const { rate, source } = chooseRate({
    rate: positive('rate', values.rate),
    capacity: positive('capacity', values.capacity),
    latest: readLatest(),
  });
  const out = values.out ?? new URL('./results/soak.json', import.meta.url).pathname;
  // The end-to-end settings of `npm run bench` (fleet, latency sample, probe).
  const s = {
    ...parseSettings([
      '--no-stages', // a profiler running all the while would be part of what is measured
      ...(values.skjold ?? []).flatMap((kv) => ['--skjold', kv]),
    ]),
    out,
  };
  const count = Math.max(1, Math.round((minutes * 60) / intervalS));
  process.stderr.write(`soak: ${rate} msg/s (${source}), ${count} × ${intervalS} s\n`);

  const startedAt = new Date();
  const fleet: FleetSpec = { seed: 'skjold-bench', devicesPerKind: s.devicesPerKind };
  const load = forkChild('load', new URL('./load-process.ts', import.meta.url).pathname);
  const loadNice = prioritise(load.pid);
  try {
    const pipeline = await startPipeline(s, fleet, load);
    const { ctx } = pipeline;
    const rows: IntervalRow[] = [];
    let run: SoakLoad | undefined;
    let aborted: string | null = null;
    let final = { acked: 0, stored: 0, tsCollisions: 0, lost: 0, unacked: 0 };
    try {
      const plan = { rate, intervals: count, intervalMs: intervalS * 1000, timelineFile: values.timeline };
      run = await soakLoad(ctx, plan, (row) => {
        rows.push(row);
        process.stderr.write(`${line(row, count)}\n`);
      });
      final = await reckon(ctx, run);
      const withLoss = rows.filter((r) => (r.lost ?? 0) > 0).map((r) => `${r.interval}: ${r.lost}`);
      process.stderr.write(
        `  stored per interval: ${rows.map((r) => r.stored).join(', ')}${withLoss.length ? ` (lost in ${withLoss.join(', ')})` : ''}\n`,
      );
      await ctx.skjold.call('stop');
    } catch (err) {
      // A crash ends the soak; the intervals measured until then are kept, and it fails.
      aborted = err instanceof Error ? err.message : String(err);
      process.stderr.write(`soak aborted: ${aborted.split('\n')[0]}\n`);
    } finally {
      await pipeline.close();
    }

    const figures = (rss: 'rssMeanMiB' | 'rssMiB') =>
      rows.map((r) => ({ endMin: r.endMin, rssMiB: r.skjold[rss], p99Ms: r.latencyMs.p99 }));
    // Each interval's mean RSS (a reading every 250 ms): the end's single reading swings ±15 MiB with the buffers in flight.
    const verdict = soakVerdict(figures('rssMeanMiB'), final.lost, warmupMin);
    if (aborted) verdict.failures.unshift(`aborted: ${aborted.split('\n')[0]}`);
    if (aborted || rows.length < count) verdict.pass = false;
    const results = {
      schema: 2,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npm run bench:soak${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: machineInfo(),
      loadGeneratorNice: loadNice,
      rate: { msgPerS: rate, source },
      settings: { minutes, intervalS, warmupMin, intervals: count, skjoldEnv: s.skjoldEnv, fleet },
      fleet: { tenants: BENCH_TENANTS.length, devices: pipeline.devices, latencyDevices: ctx.targets.length },
      skjoldSettings: pipeline.started.settings,
      skjoldRssBeforeLoadMiB: pipeline.skjoldRssBeforeLoadMiB,
      intervals: rows,
      totals: final,
      verdict,
      /** The same fit over each interval's end reading, for comparison with earlier soaks (which used it). */
      rssEndSlope: rssSlope(figures('rssMiB'), warmupMin).miBPerMin,
      aborted,
      load: run
        ? {
            published: run.final.published,
            acked: run.final.acked,
            unacked: run.final.unacked,
            throttledTicks: run.final.throttledTicks,
            connected: run.final.connected,
            errors: run.final.errors,
          }
        : null,
      probe: run?.probe ?? null,
      influxd: run?.influxd ?? null,
      skjoldCounters: run?.skjoldCounters ?? null,
    };
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(summary(results, relative(process.cwd(), out)));
    process.exitCode = verdict.pass ? 0 : 1;
  } finally {
    await load.stop();
  }
}

function line(r: IntervalRow, count: number): string {
  const w = String(count).length;
  const spaces = Object.entries(r.skjold.heapSpacesMiB)
    .map(([name, mib]) => `${name.replace(/_space$/, '')} ${mib}`)
    .join(' ');
  return (
    `  [${String(r.interval).padStart(w)}/${count}] ${r.endMin.toFixed(1)} min: acked ${r.acked}, ${r.achievedRate}/s, ` +
    `p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} max ${r.latencyMs.max} ms (${r.latencyMs.count} sampled), ` +
    `RSS ${r.skjold.rssMiB} MiB heap ${r.skjold.heapUsedMiB}/${r.skjold.heapTotalMiB} MiB (${spaces}), ` +
    `cores skjold ${r.skjold.cpuCores} influxd ${r.influxdCores} load ${r.loadCores}, ` +
    `load RSS ${r.loadRssMiB} MiB, ` +
    `buffer mean ${r.buffer.mean} max ${r.buffer.max}, ` +
    `spool commits ${r.spoolCommits.count} × ${r.spoolCommits.meanMs} ms, ` +
    `store writes ${r.storeWrites.count} × ${r.storeWrites.meanMs} ms (influxd ${r.influxdWriteMeanMs} ms), ` +
    `influxd compactions ${compactions(r.influxdCompactions)}, ` +
    `loop p99 ${r.eventLoopDelayMs.p99} ms, GC ${r.gc.totalMs} ms, throttled ticks ${r.throttledTicks}, ` +
    `collisions ${r.tsCollisions}, online ${r.online}` +
    (r.failures.length ? ` — ${r.failures.join('; ')}` : '')
  );
}

/** The kinds that ran, e.g. `cache 9 (2.1 s), level1 2 (0.8 s)`; `none` when none finished. */
function compactions(c: IntervalRow['influxdCompactions']): string {
  const ran = Object.entries(c).filter(([, k]) => k.count > 0);
  return ran.length ? ran.map(([kind, k]) => `${kind} ${k.count} (${k.seconds} s)`).join(', ') : 'none';
}

function summary(
  r: {
    rate: { msgPerS: number; source: string };
    totals: { acked: number; stored: number; tsCollisions: number; lost: number; unacked: number };
    verdict: ReturnType<typeof soakVerdict>;
    rssEndSlope: number | null;
  },
  out: string,
): string {
  const { rss, p99 } = r.verdict;
  return [
    '',
    `Soak at ${r.rate.msgPerS} msg/s (${r.rate.source})`,
    `  acknowledged ${r.totals.acked}, stored ${r.totals.stored}, timestamp collisions ${r.totals.tsCollisions}: lost ${r.totals.lost}` +
      (r.totals.unacked ? ` (${r.totals.unacked} never acknowledged)` : ''),
    `  RSS slope ${rss.miBPerMin ?? '–'} MiB/min over ${rss.intervalsUsed} intervals' means after ${rss.warmupMin} min of warm-up ` +
      `(${r.rssEndSlope ?? '–'} MiB/min from their end readings)`,
    `  p99 median ${p99.firstThirdMedianMs} ms (first ${p99.thirdOf} intervals) → ${p99.lastThirdMedianMs} ms (last ${p99.thirdOf}), ` +
      `×${p99.ratio}, slope ${p99.slopeMsPerMin ?? '–'} ms/min, max ${p99.maxMs} ms`,
    `  ${r.verdict.pass ? 'PASS' : `FAIL: ${r.verdict.failures.join('; ')}`}`,
    `  written to ${out}`,
    '',
  ].join('\n');
}

await main();
