/**
 * The soak's load: one load for the whole run (load-process.ts `loadStart`),
 * the fleet connected throughout, and one latency probe over it. Every
 * interval the runner reads the load (acknowledged so far, and the send
 * times of the sampled devices' messages published since the last reading),
 * takes the probe's visibility times for those messages, and samples
 * Skjold's memory, CPU and transport buffer. Nothing is reconnected between
 * intervals; the load generator and the probe keep only what the next
 * reading has not taken, so memory on the measuring side stays flat.
 */
import { BENCH_TENANTS } from './bench-fleet.ts';
import { type HttpdDelta, httpdDelta, httpdStats } from './influxd-stats.ts';
import { type ProbeStats, sampleLatencies, startProbe } from './latency-probe.ts';
import type { LoadPoll, LoadStarted, MqttLoadArgs } from './load-process.ts';
import { type Context, counterDelta, spoolCommits, storeWrites } from './pipeline-step.ts';
import { startSampler } from './proc-sampler.ts';
import type { MetricValues, RuntimeWatch } from './skjold-process.ts';
import { startTimeline } from './soak-timeline.ts';
import { distribution, P99_BAR_MS, perSecond } from './stats.ts';
import { countPoints, settledCount } from './store-count.ts';

/** The warm-up publishes from seq 0; the soak's seqs start clear of it. */
const FIRST_SEQ = 10_000_000;
/** How long an interval's last sampled messages are waited for, as in an end-to-end step. */
const LATENCY_WAIT_MS = 5_000;

export interface SoakPlan {
  rate: number;
  intervals: number;
  intervalMs: number;
  /** `--timeline`: where to write the soak second by second (soak-timeline.ts). */
  timelineFile?: string | undefined;
}

export type IntervalRow = ReturnType<typeof intervalRow>;

export interface SoakLoad {
  rows: IntervalRow[];
  /** Device-clock bounds: interval k's points are stamped in [bounds[k-1], bounds[k]); the last one has no end. */
  bounds: number[];
  /** The load's last reading: its totals over the whole run. */
  final: LoadPoll;
  probe: ProbeStats;
  /** Skjold's own counters over the whole run. */
  skjoldCounters: Record<string, number>;
  influxd: HttpdDelta;
}

/** Runs the load for `plan.intervals` × `plan.intervalMs`, calling `onInterval` with each interval's figures. */
export async function soakLoad(
  ctx: Context,
  plan: SoakPlan,
  onInterval: (row: IntervalRow) => void,
): Promise<SoakLoad> {
  const pids = { skjold: ctx.skjold.pid, influxd: ctx.influxPid, load: ctx.load.pid, runner: process.pid };
  const timeline =
    plan.timelineFile === undefined
      ? undefined
      : startTimeline(
          plan.timelineFile,
          { skjold: pids.skjold, influxd: pids.influxd, load: pids.load },
          { url: ctx.influx.url, user: ctx.influx.adminUser, password: ctx.influx.adminPassword },
        );
  const probe = startProbe({
    store: ctx.store,
    targets: ctx.targets,
    firstSeq: FIRST_SEQ,
    sinceMs: Date.now(),
    intervalMs: ctx.s.probeIntervalMs,
  });
  let sampler = startSampler(pids);
  try {
    const before = await ctx.skjold.call<MetricValues>('metrics');
    const httpdBefore = await httpdStats(ctx.influx.url, ctx.influx.adminUser, ctx.influx.adminPassword);
    const started = await ctx.load.call<LoadStarted>('loadStart', {
      mqttUrl: ctx.mqttUrl,
      fleet: ctx.fleet,
      totalRate: plan.rate,
      durationMs: plan.intervals * plan.intervalMs,
      // A second's worth: the generator holds back only when latency passes a second, which fails the soak anyway.
      maxInflight: plan.rate,
      firstSeq: FIRST_SEQ,
      sampleLogins: ctx.targets.map((t) => t.login),
    } satisfies MqttLoadArgs);
    await ctx.skjold.call('watchStart', { profile: false });
    const rows: IntervalRow[] = [];
    const bounds = [started.deviceTime];
    let previous = { at: started.at, acked: 0, published: 0, tsCollisions: 0, throttledTicks: 0 };
    let countersBefore = before.counters;
    let httpdPrevious = httpdBefore;
    let final: LoadPoll | undefined;
    for (let k = 1; k <= plan.intervals; k++) {
      const last = k === plan.intervals;
      // Readings on the load's own clock; the last one waits for the load to end and drain.
      if (!last) await sleepUntil(started.at + k * plan.intervalMs);
      const poll = await ctx.load.call<LoadPoll>(last ? 'loadEnd' : 'loadProgress');
      const end = last ? Math.max(previous.at, poll.lastAckAt ?? poll.at) : poll.at;
      const usage = sampler.stop({ from: previous.at, to: end });
      if (!last) sampler = startSampler(pids);
      const runtime = await ctx.skjold.call<RuntimeWatch>('watchStop', {
        messages: poll.acked - previous.acked,
      });
      if (!last) await ctx.skjold.call('watchStart', { profile: false });
      const memory = await ctx.skjold.call<Record<string, number>>('memory');
      const countersNow = (await ctx.skjold.call<MetricValues>('metrics')).counters;
      const counters = counterDelta(countersBefore, countersNow);
      countersBefore = countersNow;
      const httpdNow = await httpdStats(ctx.influx.url, ctx.influx.adminUser, ctx.influx.adminPassword);
      const httpd = httpdDelta(httpdPrevious, httpdNow);
      httpdPrevious = httpdNow;
      const expected = Object.fromEntries(
        Object.entries(poll.sample).map(([login, sent]) => [login, sent.keys()]),
      );
      const seen = await probe.take(expected, LATENCY_WAIT_MS);
      const latency = sampleLatencies(poll.sample, seen, poll.sampleOverwritten);
      timeline?.addLatencies(latency.sentAt, latency.latencies);
      const row = intervalRow({
        k,
        endMin: (end - started.at) / 60_000,
        seconds: (end - previous.at) / 1000,
        published: poll.published - previous.published,
        acked: poll.acked - previous.acked,
        achievedRate: perSecond(poll.acked - previous.acked, previous.at, end),
        tsCollisions: poll.tsCollisions - previous.tsCollisions,
        throttledTicks: poll.throttledTicks - previous.throttledTicks,
        counters,
        httpd,
        poll,
        latency,
        usage,
        runtime,
        memory,
        rate: plan.rate,
        connected: started.connected,
      });
      rows.push(row);
      onInterval(row);
      if (!last) bounds.push(poll.deviceTime);
      previous = {
        at: end,
        acked: poll.acked,
        published: poll.published,
        tsCollisions: poll.tsCollisions,
        throttledTicks: poll.throttledTicks,
      };
      final = poll;
    }
    const after = await ctx.skjold.call<MetricValues>('metrics');
    return {
      rows,
      bounds,
      final: final as LoadPoll,
      probe: {
        ...probe.stats,
        queryMsAvg: Math.round(probe.stats.queryMsAvg * 10) / 10,
        queryMsMax: Math.round(probe.stats.queryMsMax),
        resolutionMs: Math.round(probe.stats.resolutionMs),
      },
      skjoldCounters: counterDelta(before.counters, after.counters),
      influxd: httpdDelta(
        httpdBefore,
        await httpdStats(ctx.influx.url, ctx.influx.adminUser, ctx.influx.adminPassword),
      ),
    };
  } finally {
    sampler.stop();
    timeline?.finish();
    await probe.finish({}, 0);
  }
}

function intervalRow(a: {
  k: number;
  endMin: number;
  seconds: number;
  published: number;
  acked: number;
  achievedRate: number;
  tsCollisions: number;
  throttledTicks: number;
  counters: Record<string, number>;
  httpd: HttpdDelta;
  poll: LoadPoll;
  latency: ReturnType<typeof sampleLatencies>;
  usage: ReturnType<ReturnType<typeof startSampler>['stop']>;
  runtime: RuntimeWatch;
  memory: Record<string, number>;
  rate: number;
  connected: number;
}) {
  const skjold = a.usage.processes.skjold;
  const { rss: _rss, heapTotal, heapUsed, external, arrayBuffers, ...heapSpacesMiB } = a.memory;
  const latencyMs = distribution(a.latency.latencies);
  const failures: string[] = [];
  if (a.latency.notSeen > 0) failures.push(`${a.latency.notSeen} sampled messages never queryable`);
  if (!(latencyMs.p99 < P99_BAR_MS)) failures.push(`p99 ${latencyMs.p99} ms ≥ ${P99_BAR_MS} ms`);
  if (a.achievedRate < 0.97 * a.rate) failures.push(`achieved ${a.achievedRate} < 97 % of ${a.rate}`);
  if (a.poll.online < a.connected) failures.push(`${a.connected - a.poll.online} devices disconnected`);
  return {
    interval: a.k,
    endMin: Math.round(a.endMin * 100) / 100,
    seconds: Math.round(a.seconds * 10) / 10,
    published: a.published,
    acked: a.acked,
    achievedRate: a.achievedRate,
    /** Published and not yet acknowledged at the interval's end. */
    unacked: a.poll.unacked,
    /** Devices connected at the interval's end (the last one: when publishing stopped). */
    online: a.poll.online,
    tsCollisions: a.tsCollisions,
    /** The generator's 10 ms ticks that held back: a second's worth of messages were waiting for their PUBACKs. */
    throttledTicks: a.throttledTicks,
    /** The spool's group commits in the interval (mean time includes the event-loop turns they waited for). */
    spoolCommits: spoolCommits(a.counters),
    /** Skjold's writes to InfluxDB in the interval, as Skjold timed them… */
    storeWrites: storeWrites(a.counters),
    /** …and influxd's own mean time per write request. */
    influxdWriteMeanMs: a.httpd.writeMeanMs,
    /** influxd's compactions that finished in the interval (a shard's larger ones rewrite most of what it holds). */
    influxdCompactions: a.httpd.compactions,
    /** Points stamped in the interval, counted once the whole run is stored (null until then). */
    stored: null as number | null,
    lost: null as number | null,
    latencyMs: { count: latencyMs.count, p50: latencyMs.p50, p99: latencyMs.p99, max: latencyMs.max },
    latencyNotSeen: a.latency.notSeen,
    latencyOverwritten: a.latency.overwritten,
    skjold: {
      rssMiB: skjold?.rssEndMiB ?? 0,
      rssMeanMiB: skjold?.rssMeanMiB ?? 0,
      rssPeakMiB: skjold?.rssPeakMiB ?? 0,
      heapUsedMiB: heapUsed ?? 0,
      heapTotalMiB: heapTotal ?? 0,
      externalMiB: external ?? 0,
      arrayBuffersMiB: arrayBuffers ?? 0,
      heapSpacesMiB,
      cpuCores: skjold?.cpuCoresAvg ?? 0,
      mainThreadCores: skjold?.mainThreadCoresAvg ?? 0,
    },
    influxdCores: a.usage.processes.influxd?.cpuCoresAvg ?? 0,
    loadCores: a.usage.processes.load?.cpuCoresAvg ?? 0,
    /** The load generator's resident memory at the interval's end: flat when it keeps nothing per message. */
    loadRssMiB: a.usage.processes.load?.rssEndMiB ?? 0,
    otherCores: a.usage.otherCores,
    buffer: { mean: a.runtime.bufferedMean, max: a.runtime.bufferedMax, fullShare: a.runtime.fullShare },
    eventLoopDelayMs: a.runtime.eventLoopDelayMs,
    gc: a.runtime.gc,
    failures,
  };
}

/**
 * Acknowledged vs stored over the whole run, counted once the count stops moving (a point that
 * reached InfluxDB late is not taken for lost): lost = acked − stored − timestamp collisions
 * (ts-collisions.ts), at least 0. Then each interval's points by their device time, so a loss can
 * be placed in time; the last interval also allows for what was never acknowledged.
 */
export async function reckon(ctx: Context, load: SoakLoad) {
  const tenants = BENCH_TENANTS.map((t) => t.id);
  const { acked, unacked, tsCollisions } = load.final;
  const since = load.bounds[0] as number;
  const stored = await settledCount(ctx.store, tenants, since, acked - tsCollisions);
  for (const [i, row] of load.rows.entries()) {
    row.stored = await countPoints(ctx.store, tenants, load.bounds[i] as number, load.bounds[i + 1]);
    const open = i === load.rows.length - 1 ? unacked : 0;
    row.lost = Math.max(0, row.published - open - row.stored - row.tsCollisions);
    if (row.lost > 0) row.failures.push(`${row.lost} published in the interval and not stored`);
  }
  return { acked, stored, tsCollisions, lost: Math.max(0, acked - stored - tsCollisions), unacked };
}

const sleepUntil = (at: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
