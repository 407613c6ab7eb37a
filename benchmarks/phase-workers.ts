/**
 * Phase W — scaling with worker processes: `skjold start` with
 * SKJOLD_WORKERS=1, then 2, … (as deployed: its own process, PostgreSQL
 * registry, Redis, SKJOLD_KEYS — what more than one worker needs, so every
 * count runs on the same services), the same fleet and load generator as
 * Phase C. Each step reports the achieved rate, acknowledged vs stored, and
 * the cores each worker process used. No latency probe: the figure here is
 * how the rate and the work spread with the number of processes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInfluxV1Store } from '../store/influx-v1.ts';
import { startInfluxd } from '../test/harness/influxd.ts';
import { startPostgres } from '../test/harness/postgres.ts';
import { startRedis } from '../test/harness/redis.ts';
import { sharedKeys } from '../test/harness/shared-keys.ts';
import { startSkjoldProcess } from '../test/harness/skjold-process.ts';
import type { BenchSettings } from './args.ts';
import { BENCH_TENANTS, benchFleet, type FleetSpec } from './bench-fleet.ts';
import type { Child } from './ipc.ts';
import type { MqttLoadResult } from './load-process.ts';
import { warmUp } from './pipeline-setup.ts';
import { findPid, type PhaseUsage, startSampler } from './proc-sampler.ts';
import { registerBenchFleet } from './register-fleet.ts';
import { perSecond } from './stats.ts';
import { settledCount } from './store-count.ts';

export interface WorkersStep {
  workers: number;
  targetRate: number;
  acked: number;
  unacked: number;
  stored: number;
  tsCollisions: number;
  lost: number;
  achievedRate: number;
  /** Cores used by all Skjold processes together (primary and workers). */
  skjoldCores: number;
  /** Per worker process (`worker 1`, …; with one worker the process itself). */
  workerCores: number[];
  usage: PhaseUsage;
}

export interface WorkersPhase {
  steps: WorkersStep[];
  /** Highest achieved rate per worker count (steps with nothing lost and nothing unacknowledged). */
  bestByWorkers: Record<string, number>;
  aborted: string | null;
}

const TOKEN = 'bench-operator-token-0123456789';

export async function runWorkersPhase(
  s: BenchSettings,
  fleet: FleetSpec,
  load: Child,
): Promise<WorkersPhase> {
  const steps: WorkersStep[] = [];
  let aborted: string | null = null;
  for (const workers of s.workers) {
    try {
      steps.push(...(await runCount(s, fleet, load, workers)));
    } catch (err) {
      aborted = `with ${workers} workers: ${err instanceof Error ? err.message : String(err)}`;
      process.stderr.write(`  workers aborted: ${aborted.split('\n')[0]}\n`);
      break;
    }
  }
  const bestByWorkers: Record<string, number> = {};
  for (const st of steps) {
    if (st.lost > 0 || st.unacked > 0) continue;
    bestByWorkers[st.workers] = Math.max(bestByWorkers[st.workers] ?? 0, st.achievedRate);
  }
  return { steps, bestByWorkers, aborted };
}

async function runCount(
  s: BenchSettings,
  fleet: FleetSpec,
  load: Child,
  workers: number,
): Promise<WorkersStep[]> {
  const [postgres, redis, influx] = await Promise.all([startPostgres(), startRedis(), startInfluxd()]);
  const dataDir = mkdtempSync(join(tmpdir(), 'skjold-bench-workers-'));
  const store = createInfluxV1Store({
    url: influx.url,
    username: influx.adminUser,
    password: influx.adminPassword,
  });
  let skjold: Awaited<ReturnType<typeof startSkjoldProcess>> | undefined;
  try {
    skjold = await startSkjoldProcess({
      id: `bench-${workers}`,
      dataDir,
      env: {
        SKJOLD_LOG_LEVEL: 'warn',
        SKJOLD_MQTT_DEVICE_RATE: '100000',
        SKJOLD_MQTT_CONNECT_RATE: '10000',
        SKJOLD_MQTT_SOURCE_CONNECT_RATE: '10000',
        SKJOLD_AUTH_CACHE_SECONDS: '3600',
        ...s.skjoldEnv,
        SKJOLD_WORKERS: String(workers),
        DATABASE_URL: postgres.url,
        SKJOLD_REDIS_URL: redis.url,
        SKJOLD_KEYS: await sharedKeys(BENCH_TENANTS.map((t) => t.id)),
        SKJOLD_INFLUX_URL: influx.url,
        SKJOLD_INFLUX_USER: influx.adminUser,
        SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
        SKJOLD_INFLUXD_MANAGED: 'false',
        SKJOLD_OPERATOR_TOKEN: TOKEN,
        SKJOLD_RETENTION_SCHEDULE: 'off',
      },
    });
    const mqttUrl = `mqtt://127.0.0.1:${skjold.mqttPort}`;
    const registered = await registerBenchFleet(benchFleet(fleet), skjold.apiUrl, TOKEN);
    process.stderr.write(
      `  ${workers} worker(s): registered ${registered.created} devices in ${registered.seconds} s\n`,
    );
    await warmUp(load, mqttUrl, fleet);
    const primary = skjold.proc.pid;
    const workerPids = workers > 1 ? childPids(primary) : [primary];
    const steps: WorkersStep[] = [];
    for (const [i, rate] of s.workerRates.entries()) {
      const pids: Record<string, number> = { influxd: findPid(influx.dataDir) ?? 0, load: load.pid };
      workerPids.forEach((pid, k) => {
        pids[`worker ${k + 1}`] = pid;
      });
      if (workers > 1) pids.primary = primary;
      const sampler = startSampler(pids);
      const report = await load.call<MqttLoadResult>('mqttLoad', {
        mqttUrl,
        fleet,
        totalRate: rate,
        durationMs: s.pipelineStepMs,
        maxInflight: rate,
        firstSeq: (i + 1) * 10_000_000,
        sampleLogins: [],
      });
      const usage = sampler.stop({
        from: report.firstPublishAt ?? report.startTime,
        to: report.lastAckAt ?? Date.now(),
      });
      // PUBACK means "in the spool": wait until the workers' drainers have caught up.
      const stored = await settledCount(
        store,
        BENCH_TENANTS.map((t) => t.id),
        report.startTime,
        report.acked - report.tsCollisions,
      );
      const workerCores = workerPids.map((_, k) => usage.processes[`worker ${k + 1}`]?.cpuCoresAvg ?? 0);
      const skjoldCores =
        workerCores.reduce((a, b) => a + b, 0) + (usage.processes.primary?.cpuCoresAvg ?? 0);
      const step: WorkersStep = {
        workers,
        targetRate: rate,
        acked: report.acked,
        unacked: report.unacked,
        stored,
        tsCollisions: report.tsCollisions,
        lost: Math.max(0, report.acked - stored - report.tsCollisions),
        achievedRate: perSecond(report.acked, report.firstPublishAt, report.lastAckAt),
        skjoldCores: Math.round(skjoldCores * 100) / 100,
        workerCores,
        usage,
      };
      steps.push(step);
      process.stderr.write(
        `  ${workers} worker(s) at ${rate} msg/s: achieved ${step.achievedRate}/s, lost ${step.lost}, ` +
          `unacked ${step.unacked}; Skjold ${step.skjoldCores} cores (workers ${workerCores.join(' + ')}), ` +
          `other processes ${usage.otherCores}\n`,
      );
    }
    return steps;
  } finally {
    await skjold?.stop();
    await store.close();
    await Promise.all([influx.stop(), postgres.stop(), redis.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The processes whose parent is `pid` (node:cluster's workers), from /proc. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the parent pid; field 2 (the name) may hold spaces, so count from its closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}
