/**
 * Phase A — the InfluxDB ceiling: the points the pipeline would write, as
 * line-protocol batches through Skjold's own store client, from concurrent
 * writers in the load process, into a private influxd of their own.
 */
import { createInfluxV1Store } from '../store/influx-v1.ts';
import { startInfluxd } from '../test/harness/influxd.ts';
import type { BenchSettings } from './args.ts';
import { BENCH_TENANTS, type FleetSpec } from './bench-fleet.ts';
import type { Child } from './ipc.ts';
import type { InfluxWriteResult } from './load-process.ts';
import { findPid, type PhaseUsage, startSampler } from './proc-sampler.ts';
import { type Distribution, distribution } from './stats.ts';
import { countPoints } from './store-count.ts';

export interface InfluxPhase {
  pointsPerSecond: number;
  points: number;
  /** Points InfluxDB holds afterwards (must equal `points`). */
  stored: number;
  durationS: number;
  batchPoints: number;
  writers: number;
  batchWriteMs: Distribution;
  errors: number;
  usage: PhaseUsage;
}

export async function runInfluxPhase(s: BenchSettings, fleet: FleetSpec, load: Child): Promise<InfluxPhase> {
  const influx = await startInfluxd();
  try {
    const sampler = startSampler({
      influxd: findPid(influx.dataDir) ?? 0,
      load: load.pid,
      runner: process.pid,
    });
    const result = await load.call<InfluxWriteResult>('influxWrite', {
      url: influx.url,
      user: influx.adminUser,
      password: influx.adminPassword,
      fleet,
      durationMs: s.influxMs,
      batchPoints: s.influxBatchPoints,
      writers: s.influxWriters,
    });
    const usage = sampler.stop({ from: result.startedAt, to: result.startedAt + result.elapsedMs });
    const store = createInfluxV1Store({
      url: influx.url,
      username: influx.adminUser,
      password: influx.adminPassword,
    });
    const stored = await countPoints(
      store,
      BENCH_TENANTS.map((t) => t.id),
      0,
    );
    await store.close();
    return {
      pointsPerSecond: Math.round(result.points / (result.elapsedMs / 1000)),
      points: result.points,
      stored,
      durationS: Math.round(result.elapsedMs / 100) / 10,
      batchPoints: s.influxBatchPoints,
      writers: s.influxWriters,
      batchWriteMs: distribution(result.batchMs),
      errors: result.errors,
      usage,
    };
  } finally {
    await influx.stop();
  }
}
