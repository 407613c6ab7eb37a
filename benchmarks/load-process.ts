/**
 * The client side of every phase, in its own process so its CPU is counted
 * apart: Phase A's InfluxDB writers, and Phases B and C's load generator
 * (device-sim/load.ts) publishing the fleet's telemetry over MQTT.
 */
import type { SimDevice } from '../device-sim/fleet.ts';
import { type LoadReport, runLoad } from '../device-sim/load.ts';
import { createInfluxV1Store } from '../store/influx-v1.ts';
import { benchFleet, type FleetSpec } from './bench-fleet.ts';
import { serveIpc } from './ipc.ts';
import { batchSource, transformedPoints } from './phase-a-points.ts';
import { installCollisionCounter, resetCollisions, takeCollisions } from './ts-collisions.ts';

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

installCollisionCounter();
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

async function mqttLoad(args: MqttLoadArgs): Promise<MqttLoadResult> {
  const devices = fleetDevices(args.fleet);
  const topicOf = (login: string): string => `skjold/d/${login}/telemetry`;
  resetCollisions(args.sampleLogins.map(topicOf));
  const startTime = Date.now();
  const report = await runLoad({
    mqttUrl: args.mqttUrl,
    devices,
    totalRate: args.totalRate,
    durationMs: args.durationMs,
    qos: 1,
    recordSendTimes: args.sampleLogins.length > 0,
    maxInflight: args.maxInflight,
    firstSeq: args.firstSeq,
    startTime: new Date(startTime),
    connectConcurrency: 64,
    drainTimeoutMs: args.drainTimeoutMs ?? 10_000,
  });
  const elapsedMs = Date.now() - startTime;
  const { sendTimes, perSecond: _perSecond, ...rest } = report;
  const sample: Record<string, Map<number, number>> = {};
  for (const login of args.sampleLogins) sample[login] = new Map();
  for (const [key, at] of sendTimes ?? []) {
    const colon = key.lastIndexOf(':');
    const perLogin = sample[key.slice(0, colon)];
    if (perLogin) perLogin.set(Number(key.slice(colon + 1)), at);
  }
  const collisions = takeCollisions();
  const sampleOverwritten: Record<string, number[]> = {};
  for (const login of args.sampleLogins) sampleOverwritten[login] = collisions.seqs.get(topicOf(login)) ?? [];
  return { ...rest, sample, tsCollisions: collisions.count, sampleOverwritten, startTime, elapsedMs };
}

serveIpc({ influxWrite, mqttLoad });
