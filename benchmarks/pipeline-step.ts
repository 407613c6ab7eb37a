/**
 * One end-to-end step: the load generator at a target rate through Skjold,
 * then the reckoning — acknowledged vs stored, publish-to-queryable latency
 * of the sampled devices, Skjold's own counters and buffer, CPU and memory.
 */
import { join } from 'node:path';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import type { BenchSettings } from './args.ts';
import { BENCH_TENANTS, type FleetSpec } from './bench-fleet.ts';
import { type HttpdDelta, httpdDelta, httpdStats } from './influxd-stats.ts';
import type { Child } from './ipc.ts';
import { type ProbeStats, type ProbeTarget, sampleLatencies, startProbe } from './latency-probe.ts';
import type { MqttLoadResult } from './load-process.ts';
import { type PhaseUsage, startSampler } from './proc-sampler.ts';
import type { MetricValues, RuntimeWatch, WatchArgs } from './skjold-process.ts';
import { type Distribution, distribution, P99_BAR_MS, perSecond } from './stats.ts';
import { countPoints } from './store-count.ts';

export interface PipelineStep {
  targetRate: number;
  published: number;
  acked: number;
  unacked: number;
  /** Points InfluxDB holds for the step. */
  stored: number;
  /** Messages with their device's previous timestamp: InfluxDB keeps one of the two (not a Skjold loss). */
  tsCollisions: number;
  /** Acknowledged messages missing from InfluxDB: acked − stored − tsCollisions, at least 0. */
  lost: number;
  /** Acknowledged messages per second, first publish to last PUBACK. */
  achievedRate: number;
  latencyMs: Distribution;
  /** Sampled messages never seen in InfluxDB (within the probe's window), overwritten ones aside. */
  latencyNotSeen: number;
  /** Sampled messages that shared a timestamp with their device's next or previous one (see tsCollisions). */
  latencyOverwritten: number;
  throttledTicks: number;
  errors: Record<string, number>;
  /** Inside Skjold during the step: transport buffer (how far the store lagged), event loop delay, GC. */
  skjoldRuntime: RuntimeWatch;
  /** Skjold's writes to InfluxDB during the step (one per tenant per batch). */
  storeWrites: { count: number; meanMs: number; meanPoints: number };
  /**
   * The spool's group commits (none on the other transports): one durable
   * (O_DSYNC) write each, timed on Skjold's main thread, so a commit's time
   * includes the event-loop turns it waited for. A PUBACK waits for its commit,
   * and the drainer sees a record only after it.
   */
  spoolCommits: { count: number; meanMs: number; meanRecords: number };
  /** influxd's view of the step: its own time per write request, and the probe's queries (with the counts). */
  influxd: HttpdDelta;
  /** Skjold's own counters over the step (ingest outcomes, limits, store write retries). */
  skjoldCounters: Record<string, number>;
  probe: ProbeStats;
  pass: boolean;
  failures: string[];
  usage: PhaseUsage;
  /** CPU time per acknowledged message over the step (all threads, from /proc), µs. */
  cpuPerMessageUs: { skjold: number; influxd: number; total: number };
}

export interface Context {
  s: BenchSettings;
  influx: { url: string; adminUser: string; adminPassword: string };
  fleet: FleetSpec;
  load: Child;
  skjold: Child;
  influxPid: number;
  store: TelemetryStore;
  mqttUrl: string;
  targets: ProbeTarget[];
}

/**
 * One end-to-end step at `rate`. With `profile`, Skjold's CPU is profiled
 * during it and summed into CPU per message by stage; the profiler itself
 * costs CPU and memory, so a phase profiles one extra step, never the steps
 * it judges.
 */
export async function pipelineStep(
  ctx: Context,
  rate: number,
  index: number,
  { profile = false }: { profile?: boolean } = {},
): Promise<PipelineStep> {
  const { s, targets } = ctx;
  const firstSeq = index * 10_000_000;
  const probe = startProbe({
    store: ctx.store,
    targets,
    firstSeq,
    sinceMs: Date.now(),
    intervalMs: s.probeIntervalMs,
  });
  const before = await ctx.skjold.call<MetricValues>('metrics');
  const httpdBefore = await httpdStats(ctx.influx.url, ctx.influx.adminUser, ctx.influx.adminPassword);
  const watch: WatchArgs = {
    profile,
    ...(profile && s.profileDir
      ? { profileFile: join(s.profileDir, `step-${index}-${rate}.cpuprofile`) }
      : {}),
  };
  await ctx.skjold.call('watchStart', watch);
  const sampler = startSampler({
    skjold: ctx.skjold.pid,
    influxd: ctx.influxPid,
    load: ctx.load.pid,
    runner: process.pid,
  });
  const report = await ctx.load.call<MqttLoadResult>('mqttLoad', {
    mqttUrl: ctx.mqttUrl,
    fleet: ctx.fleet,
    totalRate: rate,
    durationMs: s.pipelineStepMs,
    // A second's worth: the generator holds back only when latency passes a second, which fails the step anyway.
    maxInflight: rate,
    firstSeq,
    sampleLogins: targets.map((t) => t.login),
  });
  const expected: Record<string, Iterable<number>> = {};
  for (const [login, sent] of Object.entries(report.sample)) expected[login] = sent.keys();
  await probe.finish(expected, 5_000);
  const usage = sampler.stop({
    from: report.firstPublishAt ?? report.startTime,
    to: report.lastAckAt ?? Date.now(),
  });
  const stored = await countPoints(
    ctx.store,
    BENCH_TENANTS.map((t) => t.id),
    report.startTime,
  );
  const after = await ctx.skjold.call<MetricValues>('metrics');
  const httpd = httpdDelta(
    httpdBefore,
    await httpdStats(ctx.influx.url, ctx.influx.adminUser, ctx.influx.adminPassword),
  );
  const runtime = await ctx.skjold.call<RuntimeWatch>('watchStop', { messages: report.acked });
  const counters = counterDelta(before.counters, after.counters);

  const { latencies, notSeen, overwritten } = sampleLatencies(
    report.sample,
    probe.seen,
    report.sampleOverwritten,
  );
  const latencyMs = distribution(latencies);
  const achievedRate = perSecond(report.acked, report.firstPublishAt, report.lastAckAt);
  const lost = Math.max(0, report.acked - stored - report.tsCollisions);
  const failures: string[] = [];
  if (report.unacked > 0) failures.push(`${report.unacked} never acknowledged`);
  if (lost > 0) failures.push(`${lost} acknowledged but not stored`);
  if (notSeen > 0) failures.push(`${notSeen} sampled messages never queryable`);
  if (achievedRate < 0.97 * rate) failures.push(`achieved ${achievedRate} < 97 % of ${rate}`);
  if (!(latencyMs.p99 < P99_BAR_MS)) failures.push(`p99 ${latencyMs.p99} ms ≥ ${P99_BAR_MS} ms`);
  return {
    targetRate: rate,
    published: report.published,
    acked: report.acked,
    unacked: report.unacked,
    stored,
    tsCollisions: report.tsCollisions,
    lost,
    achievedRate,
    latencyMs,
    latencyNotSeen: notSeen,
    latencyOverwritten: overwritten,
    throttledTicks: report.throttledTicks,
    errors: report.errors,
    skjoldRuntime: runtime,
    storeWrites: storeWrites(counters),
    spoolCommits: spoolCommits(counters),
    influxd: httpd,
    skjoldCounters: counters,
    probe: {
      ...probe.stats,
      queryMsAvg: Math.round(probe.stats.queryMsAvg * 10) / 10,
      queryMsMax: Math.round(probe.stats.queryMsMax),
      resolutionMs: Math.round(probe.stats.resolutionMs),
    },
    pass: failures.length === 0,
    failures,
    usage,
    cpuPerMessageUs: cpuPerMessage(usage, report.acked),
  };
}

/** The store writer's requests over a span of Skjold's counters (counterDelta): how many, mean time, points each. */
export function storeWrites(counters: Record<string, number>): PipelineStep['storeWrites'] {
  const writes = counters.skjold_store_write_seconds_count ?? 0;
  if (writes === 0) return { count: 0, meanMs: 0, meanPoints: 0 };
  return {
    count: writes,
    meanMs: Math.round(((counters.skjold_store_write_seconds_sum ?? 0) / writes) * 10_000) / 10,
    meanPoints: Math.round((counters.skjold_store_points_written_total ?? 0) / writes),
  };
}

/** The spool's group commits over a span of Skjold's counters (counterDelta). */
export function spoolCommits(counters: Record<string, number>): PipelineStep['spoolCommits'] {
  const count = counters.skjold_spool_fsync_seconds_count ?? 0;
  if (count === 0) return { count: 0, meanMs: 0, meanRecords: 0 };
  return {
    count,
    meanMs: Math.round(((counters.skjold_spool_fsync_seconds_sum ?? 0) / count) * 10_000) / 10,
    meanRecords: Math.round((counters.skjold_spool_commit_records_sum ?? 0) / count),
  };
}

/** Cores × seconds ÷ messages: what each acknowledged message cost Skjold and influxd together. */
function cpuPerMessage(usage: PhaseUsage, messages: number): PipelineStep['cpuPerMessageUs'] {
  const us = (name: string) =>
    messages > 0
      ? Math.round((((usage.processes[name]?.cpuCoresAvg ?? 0) * usage.durationS) / messages) * 1e7) / 10
      : 0;
  const skjold = us('skjold');
  const influxd = us('influxd');
  return { skjold, influxd, total: Math.round((skjold + influxd) * 10) / 10 };
}

export function counterDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const d = value - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}
