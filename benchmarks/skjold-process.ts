/**
 * Skjold itself — broker and ingest in one process, as `npm start` runs it —
 * built the way `skjold start` builds it (PGlite registry in a fresh data
 * dir, free ports), with limits raised for load and logs at warn to a file.
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { createSkjold, type Skjold } from '../app/create-skjold.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { type CpuProfile, type CpuStages, cpuStages } from './cpu-stages.ts';
import { serveIpc } from './ipc.ts';

export interface SkjoldStartArgs {
  /** Created and removed by the runner, so nothing is left behind if this process dies. */
  dataDir: string;
  /** SKJOLD_* settings from the command line, over the benchmark's own. */
  env: Record<string, string>;
  influxUrl: string;
  influxUser: string;
  influxPassword: string;
}

export interface SkjoldStarted {
  mqttUrl: string;
  apiUrl: string;
  operatorToken: string;
  logFile: string;
  /** The settings that differ from the defaults, for the results file. */
  settings: Record<string, number | string>;
}

const OPERATOR_TOKEN = 'bench-operator-token-0123456789';
let skjold: Skjold | undefined;

async function start(args: SkjoldStartArgs): Promise<SkjoldStarted> {
  const { dataDir } = args;
  const env = {
    SKJOLD_LOG_LEVEL: 'warn',
    // Load, not abuse: the fleet is ~600 devices at up to ~100 msg/s each, connecting all at once.
    SKJOLD_MQTT_DEVICE_RATE: '100000',
    SKJOLD_MQTT_CONNECT_RATE: '10000',
    SKJOLD_MQTT_SOURCE_CONNECT_RATE: '10000', // the whole fleet comes from 127.0.0.1
    SKJOLD_AUTH_CACHE_SECONDS: '3600',
    ...args.env,
  };
  const config = loadConfig(env, {
    SKJOLD_DATA_DIR: dataDir,
    SKJOLD_KEY_FILE: join(dataDir, 'keys.json'),
    SKJOLD_MQTT_HOST: '127.0.0.1',
    SKJOLD_MQTT_PORT: 0,
    SKJOLD_API_PORT: 0,
    SKJOLD_INFLUX_URL: args.influxUrl,
    SKJOLD_INFLUX_USER: args.influxUser,
    SKJOLD_INFLUX_PASSWORD: args.influxPassword,
    SKJOLD_OPERATOR_TOKEN: OPERATOR_TOKEN,
  });
  const logFile = join(dataDir, 'skjold.log');
  skjold = await createSkjold(config, {
    logger: createLogger(config.SKJOLD_LOG_LEVEL, createWriteStream(logFile)),
  });
  const { mqttPort, apiPort } = await skjold.start();
  return {
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    operatorToken: OPERATOR_TOKEN,
    logFile,
    settings: {
      ...env,
      SKJOLD_TRANSPORT: config.SKJOLD_TRANSPORT,
      SKJOLD_BATCH_POINTS: config.SKJOLD_BATCH_POINTS,
      SKJOLD_BATCH_MAX_WAIT_MS: config.SKJOLD_BATCH_MAX_WAIT_MS,
      SKJOLD_BUFFER_POINTS: config.SKJOLD_BUFFER_POINTS,
      SKJOLD_INFLUX_SOCKETS: config.SKJOLD_INFLUX_SOCKETS,
    },
  };
}

export interface MetricValues {
  counters: Record<string, number>;
  gauges: Record<string, number>;
}

/** Values by name and labels, e.g. `skjold_ingest_messages_total{kind=sim_unit,outcome=stored}`. */
async function metrics(): Promise<MetricValues> {
  if (!skjold) throw new Error('not started');
  const out: MetricValues = { counters: {}, gauges: {} };
  for (const metric of await skjold.metrics.registry.getMetricsAsJSON()) {
    if (!metric.name.startsWith('skjold_') || metric.name.startsWith('skjold_process_')) continue;
    // prom-client types `type` as a numeric enum; at run time it is 'counter', 'gauge', …
    const type = String(metric.type);
    if (type === 'histogram') {
      // Sum and count only: their deltas give a step's mean (e.g. of store write time).
      for (const v of metric.values as Array<{ metricName?: string; value: number }>) {
        if (v.metricName?.endsWith('_sum') || v.metricName?.endsWith('_count'))
          out.counters[v.metricName] = v.value;
      }
      continue;
    }
    if (type !== 'counter' && type !== 'gauge') continue;
    for (const v of metric.values) {
      const labels = Object.entries(v.labels ?? {})
        .map(([k, l]) => `${k}=${l}`)
        .join(',');
      out[type === 'counter' ? 'counters' : 'gauges'][labels ? `${metric.name}{${labels}}` : metric.name] =
        v.value;
    }
  }
  return out;
}

export interface RuntimeWatch {
  /** Points ingest accepted and the store has not yet confirmed, sampled every 50 ms. */
  bufferedMax: number;
  bufferedMean: number;
  /** Share of samples with the buffer full (devices kept waiting for their PUBACK). */
  fullShare: number;
  /** How late Skjold's event loop ran timers (perf_hooks), ms: long synchronous stretches delay every reply. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Garbage collection pauses on the main thread during the step. */
  gc: { count: number; totalMs: number; maxMs: number; heapUsedEndMiB: number };
  /** Main-thread CPU per message by stage, from a CPU profile of the step (`--stages`), or null. */
  cpuStages: CpuStages | null;
}

export interface WatchArgs {
  /** Take a V8 CPU profile of the step (the same sampler as `node --cpu-prof`). */
  profile: boolean;
  /** Where to keep the step's .cpuprofile (for profile-summary.ts), if anywhere. */
  profileFile?: string;
}

export interface WatchStopArgs {
  /** Messages acknowledged in the step: what the CPU per message is divided by. */
  messages: number;
}

// The step's profile: started and stopped with the step, so setup and
// registration do not count (a whole-process --cpu-prof file would mix them in).
let profiler: { session: Session; file: string | undefined; cpu: NodeJS.CpuUsage } | undefined;

let watchTimer: NodeJS.Timeout | undefined;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const gc = { count: 0, totalMs: 0, maxMs: 0 };
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++;
    gc.totalMs += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
  }
});
const watched = { samples: 0, sum: 0, max: 0, full: 0 };
let spoolFull = false;

async function watchStart(args?: WatchArgs): Promise<void> {
  if (!skjold) throw new Error('not started');
  if (args?.profile) {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    profiler = { session, file: args.profileFile, cpu: process.threadCpuUsage() };
  }
  const { transport, config } = skjold;
  Object.assign(watched, { samples: 0, sum: 0, max: 0, full: 0 });
  loopDelay.reset();
  loopDelay.enable();
  Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0 });
  gcObserver.observe({ entryTypes: ['gc'] });
  clearInterval(watchTimer);
  watchTimer = setInterval(() => {
    const held = transport.buffered();
    watched.samples++;
    watched.sum += held;
    watched.max = Math.max(watched.max, held);
    if (config.SKJOLD_TRANSPORT === 'memory') {
      if (held >= config.SKJOLD_BUFFER_POINTS) watched.full++;
    } else if (spoolFull) watched.full++;
    // The spool's bound is in bytes: its gauge says when it is reached.
    void skjold?.metrics.spoolFull.get().then((g) => {
      spoolFull = g.values[0]?.value === 1;
    });
  }, 50);
}

async function stopProfile(messages: number): Promise<CpuStages | null> {
  if (!profiler) return null;
  const { session, file, cpu } = profiler;
  profiler = undefined;
  const { profile } = await session.post('Profiler.stop');
  const used = process.threadCpuUsage(cpu);
  session.disconnect();
  if (file) {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
  }
  return cpuStages(profile as CpuProfile, messages, used.user + used.system);
}

async function watchStop(args?: WatchStopArgs): Promise<RuntimeWatch> {
  const stages = await stopProfile(args?.messages ?? 0);
  clearInterval(watchTimer);
  watchTimer = undefined;
  loopDelay.disable();
  gcObserver.disconnect();
  const ms = (ns: number): number => Math.round(ns / 1e5) / 10;
  const n = Math.max(1, watched.samples);
  return {
    bufferedMax: watched.max,
    bufferedMean: Math.round(watched.sum / n),
    fullShare: Math.round((watched.full / n) * 1000) / 1000,
    eventLoopDelayMs: {
      p50: ms(loopDelay.percentile(50)),
      p99: ms(loopDelay.percentile(99)),
      max: ms(loopDelay.max),
    },
    gc: {
      count: gc.count,
      totalMs: Math.round(gc.totalMs),
      maxMs: Math.round(gc.maxMs),
      heapUsedEndMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    },
    cpuStages: stages,
  };
}

async function stop(): Promise<void> {
  if (skjold) {
    await skjold.stop(); // closes the registry it opened
  }
  skjold = undefined;
}

/** Where the resident memory is: V8's heap, buffers and WASM memory outside it (MiB). */
function memory(): Record<string, number> {
  const m = process.memoryUsage();
  const mib = (v: number) => Math.round(v / 2 ** 20);
  return {
    rss: mib(m.rss),
    heapTotal: mib(m.heapTotal),
    heapUsed: mib(m.heapUsed),
    external: mib(m.external),
    arrayBuffers: mib(m.arrayBuffers),
    ...Object.fromEntries(
      getHeapSpaceStatistics()
        .filter((space) => space.space_size >= 2 ** 20)
        .map((space) => [space.space_name, mib(space.space_size)]),
    ),
  };
}

serveIpc({ start, metrics, memory, watchStart, watchStop, stop });
