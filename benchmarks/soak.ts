/**
 * `npm run bench:soak -- [--minutes 20] [--rate R | --capacity C] [--interval-s 60] [--warmup-min 3]
 *  [--skjold SKJOLD_NAME=value …] [--out <file>]`
 *
 * Skjold end to end (the same setup as Phase C) under a steady load at 70 % of
 * its measured capacity for many minutes: does memory creep, does latency
 * drift, is anything lost? One end-to-end step (pipeline-step.ts) per
 * interval, back to back, each with its own reckoning; between steps the load
 * generator reconnects the fleet (a second or two without load). Prints one
 * line per interval and a verdict; writes benchmarks/results/soak.json.
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
import { type PipelineStep, pipelineStep } from './pipeline-step.ts';
import { chooseRate, soakVerdict } from './soak-verdict.ts';
import { settledCount } from './store-count.ts';

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
  // The end-to-end settings of `npm run bench`, with one step per interval.
  const s = {
    ...parseSettings([
      '--no-stages', // a profiler running all the while would be part of what is measured
      '--duration',
      String(intervalS),
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
    const rows: ReturnType<typeof intervalRow>[] = [];
    const steps: PipelineStep[] = [];
    let aborted: string | null = null;
    let final = { acked: 0, stored: 0, tsCollisions: 0, lost: 0 };
    try {
      const t0 = Date.now();
      for (let k = 1; k <= count; k++) {
        const stepStart = Date.now();
        const step = await pipelineStep(ctx, rate, k);
        const memory = await ctx.skjold.call<Record<string, number>>('memory');
        steps.push(step);
        const row = intervalRow(k, (Date.now() - t0) / 60_000, (Date.now() - stepStart) / 1000, step, memory);
        rows.push(row);
        process.stderr.write(`${line(row, count)}\n`);
      }
      final = await reckon(ctx, steps, t0);
      await ctx.skjold.call('stop');
    } catch (err) {
      // A crash ends the soak; the intervals measured until then are kept, and it fails.
      aborted = err instanceof Error ? err.message : String(err);
      process.stderr.write(`soak aborted: ${aborted.split('\n')[0]}\n`);
    } finally {
      await pipeline.close();
    }

    const verdict = soakVerdict(
      rows.map((r) => ({ endMin: r.endMin, rssMiB: r.skjold.rssMiB, p99Ms: r.latencyMs.p99 })),
      final.lost,
      warmupMin,
    );
    if (aborted) verdict.failures.unshift(`aborted: ${aborted.split('\n')[0]}`);
    if (aborted || rows.length < count) verdict.pass = false;
    const results = {
      schema: 1,
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
      aborted,
      steps,
    };
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(summary(results, relative(process.cwd(), out)));
    process.exitCode = verdict.pass ? 0 : 1;
  } finally {
    await load.stop();
  }
}

/** One interval's figures: what the line shows and soak.json keeps (the whole step is kept too). */
function intervalRow(
  k: number,
  endMin: number,
  wallS: number,
  step: PipelineStep,
  memory: Record<string, number>,
) {
  const skjold = step.usage.processes.skjold;
  return {
    interval: k,
    endMin: Math.round(endMin * 100) / 100,
    /** Share of the interval with load on: the rest is the reconnect and the reckoning between steps. */
    loadShare: Math.round((step.usage.durationS / wallS) * 100) / 100,
    achievedRate: step.achievedRate,
    acked: step.acked,
    stored: step.stored,
    tsCollisions: step.tsCollisions,
    lost: step.lost,
    unacked: step.unacked,
    latencyMs: {
      count: step.latencyMs.count,
      p50: step.latencyMs.p50,
      p99: step.latencyMs.p99,
      max: step.latencyMs.max,
    },
    latencyNotSeen: step.latencyNotSeen,
    skjold: {
      rssMiB: skjold?.rssEndMiB ?? 0,
      rssPeakMiB: skjold?.rssPeakMiB ?? 0,
      heapUsedMiB: memory.heapUsed ?? 0,
      heapTotalMiB: memory.heapTotal ?? 0,
      externalMiB: memory.external ?? 0,
      arrayBuffersMiB: memory.arrayBuffers ?? 0,
      cpuCores: skjold?.cpuCoresAvg ?? 0,
    },
    influxdCores: step.usage.processes.influxd?.cpuCoresAvg ?? 0,
    buffer: {
      mean: step.skjoldRuntime.bufferedMean,
      max: step.skjoldRuntime.bufferedMax,
      fullShare: step.skjoldRuntime.fullShare,
    },
    failures: step.failures,
  };
}

function line(r: ReturnType<typeof intervalRow>, count: number): string {
  const w = String(count).length;
  return (
    `  [${String(r.interval).padStart(w)}/${count}] ${r.endMin.toFixed(1)} min: ${r.achievedRate}/s ` +
    `p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} max ${r.latencyMs.max} ms, ` +
    `RSS ${r.skjold.rssMiB} MiB heap ${r.skjold.heapUsedMiB}/${r.skjold.heapTotalMiB} MiB, ` +
    `cores skjold ${r.skjold.cpuCores} influxd ${r.influxdCores}, ` +
    `buffer mean ${r.buffer.mean} max ${r.buffer.max}, lost ${r.lost}`
  );
}

/**
 * Acknowledged vs stored over the whole soak, counted again once the store has caught up — so a
 * point that reached InfluxDB after its step was counted is not taken for lost — the same reckoning
 * as each step's: lost = acked − stored − timestamp collisions (ts-collisions.ts), at least 0.
 */
async function reckon(ctx: Parameters<typeof pipelineStep>[0], steps: PipelineStep[], since: number) {
  const acked = steps.reduce((a, st) => a + st.acked, 0);
  const tsCollisions = steps.reduce((a, st) => a + st.tsCollisions, 0);
  const tenants = BENCH_TENANTS.map((t) => t.id);
  const stored = await settledCount(ctx.store, tenants, since, acked - tsCollisions);
  return { acked, stored, tsCollisions, lost: Math.max(0, acked - stored - tsCollisions) };
}

function summary(
  r: {
    rate: { msgPerS: number; source: string };
    totals: { acked: number; stored: number; tsCollisions: number; lost: number };
    verdict: ReturnType<typeof soakVerdict>;
  },
  out: string,
): string {
  const { rss, p99 } = r.verdict;
  return [
    '',
    `Soak at ${r.rate.msgPerS} msg/s (${r.rate.source})`,
    `  acknowledged ${r.totals.acked}, stored ${r.totals.stored}, timestamp collisions ${r.totals.tsCollisions}: lost ${r.totals.lost}`,
    `  RSS slope ${rss.miBPerMin ?? '–'} MiB/min over ${rss.intervalsUsed} intervals after ${rss.warmupMin} min of warm-up`,
    `  p99 median ${p99.firstThirdMedianMs} ms (first ${p99.thirdOf} intervals) → ${p99.lastThirdMedianMs} ms (last ${p99.thirdOf}), ` +
      `×${p99.ratio}, slope ${p99.slopeMsPerMin ?? '–'} ms/min, max ${p99.maxMs} ms`,
    `  ${r.verdict.pass ? 'PASS' : `FAIL: ${r.verdict.failures.join('; ')}`}`,
    `  written to ${out}`,
    '',
  ].join('\n');
}

await main();
