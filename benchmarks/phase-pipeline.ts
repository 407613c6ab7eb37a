/**
 * Phase C — end to end: device-sim → Skjold's broker → ingest → InfluxDB, with
 * Skjold, the load generator and a fresh influxd each in their own process.
 * Steps through rising rates; a step passes when nothing acknowledged is
 * missing from InfluxDB, ≥ 97 % of the target rate was achieved and p99
 * publish-to-queryable latency is under a second. With `--kafka` the transport
 * is Kafka — librdkafka's mock cluster, 3 brokers, a topic of 8 partitions —
 * and the store writer is a `skjold writer` process of its own, as deployed.
 * The mock answers a fetch with one produce request's share of a partition
 * (a real broker with up to 1 MiB), so produce requests are made larger
 * (SKJOLD_KAFKA_LINGER_MS=50) for the writer to keep up; and it keeps only
 * ~5 MiB per partition: a writer that falls further behind than that loses
 * points there (a real cluster keeps them for its retention).
 */
import type { BenchSettings } from './args.ts';
import { BENCH_TENANTS, type FleetSpec } from './bench-fleet.ts';
import { stagesLine } from './cpu-stages.ts';
import type { Child } from './ipc.ts';
import { startPipeline } from './pipeline-setup.ts';
import { type PipelineStep, pipelineStep } from './pipeline-step.ts';

export interface PipelinePhase {
  /** The highest passing step, or null when none passed. */
  sustained: { targetRate: number; achievedRate: number; p50Ms: number; p99Ms: number } | null;
  fleet: { tenants: number; devices: number; registrationS: number };
  /** Skjold's resident memory after start, registration and warm-up (PGlite, code, caches). */
  skjoldRssBeforeLoadMiB: number;
  latencyDevices: number;
  skjoldSettings: Record<string, number | string>;
  /** Why the phase stopped early (e.g. Skjold crashed, with its stderr), or null. */
  aborted: string | null;
  steps: PipelineStep[];
  /**
   * One more step at the sustained rate with Skjold's CPU profiled, for CPU per
   * message by stage (`--stages`, on by default); not judged, since the
   * profiler itself takes CPU and memory from what the steps measure.
   */
  stageProfile: PipelineStep | null;
}

export async function runPipelinePhase(
  s: BenchSettings,
  fleet: FleetSpec,
  load: Child,
): Promise<PipelinePhase> {
  const pipeline = await startPipeline(s, fleet, load);
  const { ctx, started } = pipeline;
  try {
    const steps: PipelineStep[] = [];
    let current = 0;
    let stageProfile: PipelineStep | null = null;
    let index = 0;
    const run = async (rate: number, profile = false): Promise<boolean> => {
      current = rate;
      const step = await pipelineStep(ctx, rate, ++index, { profile });
      if (profile) {
        stageProfile = step;
        process.stderr.write(`  pipeline ${rate} msg/s once more, profiled for CPU by stage (not judged):\n`);
      } else {
        steps.push(step);
      }
      process.stderr.write(
        `  pipeline ${rate} msg/s: achieved ${step.achievedRate}/s, p50 ${step.latencyMs.p50} ms, ` +
          `p99 ${step.latencyMs.p99} ms, lost ${step.lost}${step.pass ? '' : ` — FAIL (${step.failures.join('; ')})`}\n`,
      );
      const cpu = step.cpuPerMessageUs;
      process.stderr.write(
        `    cpu µs/msg (all threads): Skjold ${cpu.skjold} + influxd ${cpu.influxd} = ${cpu.total}\n`,
      );
      const stages = step.skjoldRuntime.cpuStages;
      if (stages) process.stderr.write(`    ${stagesLine(stages)}\n`);
      return step.pass;
    };
    let aborted: string | null = null;
    try {
      let anyPassed = false;
      for (const rate of s.pipelineRates) {
        if (!(await run(rate))) break;
        anyPassed = true;
      }
      if (!anyPassed) for (const rate of s.pipelineFallbackRates) if (await run(rate)) break;
      // Halved until the highest pass and the lowest failure are within 2,000 msg/s (three steps at most
      // from 5,000 apart), so two paths compared in one run differ by their capacity, not by the grid.
      for (let mid = midpoint(steps); s.refine && mid !== undefined; mid = midpoint(steps)) await run(mid);
      const best = sustainedStep(steps);
      if (s.stages && best) await run(best.targetRate, true);
      await ctx.skjold.call('stop');
    } catch (err) {
      // A crashed Skjold (or load generator) ends the phase; what was measured until then is kept.
      aborted = `at ${current} msg/s: ${err instanceof Error ? err.message : String(err)}`;
      process.stderr.write(`  pipeline aborted: ${aborted.split('\n')[0]}\n`);
    }
    const best = sustainedStep(steps);
    return {
      sustained: best
        ? {
            targetRate: best.targetRate,
            achievedRate: best.achievedRate,
            p50Ms: best.latencyMs.p50,
            p99Ms: best.latencyMs.p99,
          }
        : null,
      fleet: {
        tenants: BENCH_TENANTS.length,
        devices: pipeline.devices,
        registrationS: pipeline.registrationS,
      },
      skjoldRssBeforeLoadMiB: pipeline.skjoldRssBeforeLoadMiB,
      latencyDevices: ctx.targets.length,
      skjoldSettings: started.settings,
      aborted,
      steps,
      stageProfile,
    };
  } finally {
    await pipeline.close();
  }
}

/** The passing step with the highest achieved rate. */
function sustainedStep(steps: PipelineStep[]): PipelineStep | undefined {
  return steps.filter((st) => st.pass).sort((a, b) => b.achievedRate - a.achievedRate)[0];
}

/** Halfway between the highest passing and the lowest failing rate above it, when they are ≥ 2,000 apart. */
function midpoint(steps: PipelineStep[]): number | undefined {
  const passed = Math.max(0, ...steps.filter((st) => st.pass).map((st) => st.targetRate));
  const failed = Math.min(
    ...steps.filter((st) => !st.pass && st.targetRate > passed).map((st) => st.targetRate),
  );
  if (passed === 0 || !Number.isFinite(failed) || failed - passed < 2_000) return undefined;
  return Math.round((passed + failed) / 2_000) * 1_000;
}
