/**
 * The client side of every phase, in its own process so its CPU is counted
 * apart: Phase A's InfluxDB writers, and Phases B and C's load generator
 * (device-sim/load.ts) publishing the fleet's telemetry over MQTT — one load
 * per call (`mqttLoad`), or one long load the soak reads as it runs
 * (`loadStart`, `loadProgress`, `loadEnd`). serveIpc answers each request as
 * it comes, so `loadProgress` is served while `loadEnd` waits.
 */
import type { SimDevice } from '../device-sim/fleet.ts';
import {
  type LoadProgress,
  type LoadReport,
  type LoadRun,
  type LoadStartedAt,
  runLoad,
  startLoad,
} from '../device-sim/load.ts';
import { createInfluxV1Store } from '../store/influx-v1.ts';
import { benchFleet, type FleetSpec } from './bench-fleet.ts';
import { serveIpc } from './ipc.ts';
import { batchSource, transformedPoints } from './phase-a-points.ts';
import { notePublish, resetCollisions, takeCollisions } from './ts-collisions.ts';

export interface InfluxWriteArgs {
  url: string;
  user: string;
  password: string;
  fleet: FleetSpec;
  durationMs: number;
  batchPoints: number;
  writers: number;
}

export interface InfluxWriteResult {
  /** Epoch ms of the first write (points are built before). */
  startedAt: number;
  points: number;
  batches: number;
  elapsedMs: number;
  errors: number;
  /** Write round trips, ms. */
  batchMs: number[];
}

export interface MqttLoadArgs {
  mqttUrl: string;
  /** Devices with their secrets are rebuilt from the spec (the registry was given the same ones). */
  fleet: FleetSpec;
  totalRate: number;
  durationMs: number;
  maxInflight: number;
  firstSeq: number;
  /** Logins whose per-message send times come back (the latency sample). */
  sampleLogins: string[];
  drainTimeoutMs?: number;
}

export type MqttLoadResult = Omit<LoadReport, 'sendTimes' | 'perSecond'> & {
  /** Per sampled login: seq → epoch ms of publish. */
  sample: Record<string, Map<number, number>>;
  /** Messages stamped with their device's previous timestamp (ts-collisions.ts). */
  tsCollisions: number;
  /** Per sampled login: seqs that shared a timestamp with a neighbour, so one of each pair is overwritten. */
  sampleOverwritten: Record<string, number[]>;
  startTime: number;
  elapsedMs: number;
};

/** A reading of the long load: its counters so far, and what was recorded since the previous reading. */
export type LoadPoll = Omit<LoadProgress, 'sendTimes'> & {
  /** Per sampled login: seq → epoch ms of publish, for the messages published since the previous reading. */
  sample: Record<string, Map<number, number>>;
  /** Messages stamped with their device's previous timestamp since the load started (ts-collisions.ts). */
  tsCollisions: number;
  /** Per sampled login: seqs overwritten by a timestamp collision since the previous reading. */
  sampleOverwritten: Record<string, number[]>;
};

/** What `loadStart` answers: when publishing began, on both clocks, and how many devices connected. */
export type LoadStarted = LoadStartedAt;

let devicesFor: { key: string; devices: SimDevice[] } | undefined;
const fleetDevices = (spec: FleetSpec): SimDevice[] => {
  const key = `${spec.seed}:${spec.devicesPerKind}`;
  if (devicesFor?.key !== key) devicesFor = { key, devices: benchFleet(spec).devices };
  return devicesFor.devices;
};

async function influxWrite(args: InfluxWriteArgs): Promise<InfluxWriteResult> {
  const store = createInfluxV1Store({
    url: args.url,
    username: args.user,
    password: args.password,
    maxSockets: args.writers,
  });
  const byTenant = await transformedPoints(args.fleet);
  for (const tenantId of byTenant.keys()) await store.ensureTenant(tenantId);
  const next = batchSource(byTenant, args.batchPoints, Date.now() - 3_600_000);
  const result: InfluxWriteResult = {
    startedAt: Date.now(),
    points: 0,
    batches: 0,
    elapsedMs: 0,
    errors: 0,
    batchMs: [],
  };
  const t0 = performance.now();
  const writer = async (): Promise<void> => {
    while (performance.now() - t0 < args.durationMs) {
      const batch = next();
      const start = performance.now();
      try {
        await store.write(batch.tenantId, batch.points);
        result.points += batch.points.length;
        result.batches++;
        result.batchMs.push(performance.now() - start);
      } catch {
        result.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: args.writers }, writer));
  result.elapsedMs = performance.now() - t0;
  await store.close();
  return result;
}

function loadOptions(args: MqttLoadArgs) {
  return {
    mqttUrl: args.mqttUrl,
    devices: fleetDevices(args.fleet),
    totalRate: args.totalRate,
    durationMs: args.durationMs,
    qos: 1 as const,
    recordSendTimesFor: new Set(args.sampleLogins),
    maxInflight: args.maxInflight,
    firstSeq: args.firstSeq,
    connectConcurrency: 64,
    drainTimeoutMs: args.drainTimeoutMs ?? 10_000,
    onPublish: notePublish,
  };
}

/** Per sampled login (every one present, maybe empty): seq → send time. */
function bySampledLogin(
  logins: string[],
  sendTimes: LoadReport['sendTimes'],
): Record<string, Map<number, number>> {
  return Object.fromEntries(logins.map((login) => [login, sendTimes?.get(login) ?? new Map()]));
}

function overwritten(logins: string[], seqs: Map<string, number[]>): Record<string, number[]> {
  return Object.fromEntries(logins.map((login) => [login, seqs.get(login) ?? []]));
}

async function mqttLoad(args: MqttLoadArgs): Promise<MqttLoadResult> {
  resetCollisions(args.sampleLogins);
  const startTime = Date.now();
  const report = await runLoad({ ...loadOptions(args), startTime: new Date(startTime) });
  const elapsedMs = Date.now() - startTime;
  const { sendTimes, perSecond: _perSecond, ...rest } = report;
  const collisions = takeCollisions();
  return {
    ...rest,
    sample: bySampledLogin(args.sampleLogins, sendTimes),
    tsCollisions: collisions.count,
    sampleOverwritten: overwritten(args.sampleLogins, collisions.seqs),
    startTime,
    elapsedMs,
  };
}

// The long load: one at a time, read by loadProgress while it runs.
let long: { run: LoadRun; logins: string[] } | undefined;

/** Starts a load of `durationMs` and answers once the fleet is connected and publishing. */
async function loadStart(args: MqttLoadArgs): Promise<LoadStarted> {
  if (long) throw new Error('a long load is already running: loadEnd it first');
  resetCollisions(args.sampleLogins);
  const run = startLoad(loadOptions(args));
  long = { run, logins: args.sampleLogins };
  // Not run.progress(): it hands over the send times of what was published so far, and they would be lost.
  return run.started;
}

function poll(): LoadPoll {
  if (!long) throw new Error('no long load: loadStart one first');
  const { sendTimes, ...progress } = long.run.progress();
  const collisions = takeCollisions(true);
  return {
    ...progress,
    sample: bySampledLogin(long.logins, sendTimes),
    tsCollisions: collisions.count,
    sampleOverwritten: overwritten(long.logins, collisions.seqs),
  };
}

/** Waits for the long load to end (its duration, then the drain) and gives the last reading. */
async function loadEnd(): Promise<LoadPoll> {
  if (!long) throw new Error('no long load: loadStart one first');
  const report = await long.run.done;
  const last = poll();
  // What the last reading could not hand over: the send times the run kept after publishing stopped.
  for (const [login, times] of report.sendTimes ?? []) {
    const into = last.sample[login];
    if (into) for (const [seq, at] of times) into.set(seq, at);
  }
  long = undefined;
  return { ...last, unacked: report.unacked };
}

serveIpc({ influxWrite, mqttLoad, loadStart, loadProgress: poll, loadEnd });
