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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTIME_ENV } from '../lib/process/runtime-tuning.ts';
import { type ServerProcess, spawnServer } from '../lib/process/server-process.ts';
import { createInfluxV1Store } from '../store/influx-v1.ts';
import { startInfluxd } from '../test/harness/influxd.ts';
import { MOCK_SKJOLD_ENV, startKafkaMock } from '../test/harness/kafka-mock.ts';
import type { BenchSettings } from './args.ts';
import { BENCH_TENANTS, benchFleet, type FleetSpec } from './bench-fleet.ts';
import { stagesLine } from './cpu-stages.ts';
import { type Child, forkChild } from './ipc.ts';
import { type Context, type PipelineStep, pipelineStep } from './pipeline-step.ts';
import { findPid, rssMiB } from './proc-sampler.ts';
import { registerBenchFleet } from './register-fleet.ts';
import type { SkjoldStarted } from './skjold-process.ts';

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
}

export async function runPipelinePhase(
  s: BenchSettings,
  fleet: FleetSpec,
  load: Child,
): Promise<PipelinePhase> {
  const influx = await startInfluxd();
  const kafka = s.kafka ? await startKafkaOnMock() : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'skjold-bench-'));
  // With the runtime settings `skjold start` gives itself (bin/skjold.ts).
  const skjold = forkChild(
    'skjold',
    new URL('./skjold-process.ts', import.meta.url).pathname,
    [
      ...s.skjoldNodeOptions,
      ...(s.profileDir ? ['--cpu-prof', '--cpu-prof-dir', s.profileDir] : []),
      ...(kafka ? ['--import', MOCK_CONTROLLER_PATCH] : []),
    ],
    { ...RUNTIME_ENV },
  );
  const store = createInfluxV1Store({
    url: influx.url,
    username: influx.adminUser,
    password: influx.adminPassword,
  });
  try {
    if (kafka) {
      kafka.startWriter(dataDir, {
        SKJOLD_INFLUX_URL: influx.url,
        SKJOLD_INFLUX_USER: influx.adminUser,
        SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
        ...s.skjoldEnv,
      });
    }
    const started = await skjold.call<SkjoldStarted>('start', {
      env: kafka ? { ...kafka.env, ...s.skjoldEnv } : s.skjoldEnv,
      dataDir,
      influxUrl: influx.url,
      influxUser: influx.adminUser,
      influxPassword: influx.adminPassword,
    });
    const devices = benchFleet(fleet);
    const registered = await registerBenchFleet(devices, started.apiUrl, started.operatorToken);
    process.stderr.write(`  registered ${registered.created} devices in ${registered.seconds} s\n`);
    const sampled = Array.from(
      { length: s.latencyDevices },
      (_, k) => devices.devices[Math.floor(((k + 0.5) * devices.devices.length) / s.latencyDevices)],
    ).filter((d) => d !== undefined);
    const targets = sampled.map((d) => ({
      login: d.login,
      tenantId: d.tenantId,
      measurement: d.kind,
      pseudonym: registered.pseudonyms.get(d.login) ?? '',
    }));
    // Warm-up: every device authenticates once (scrypt, then cached), databases exist, code is hot.
    await load.call('mqttLoad', {
      mqttUrl: started.mqttUrl,
      fleet,
      totalRate: 2_000,
      durationMs: 3_000,
      maxInflight: 2_000,
      firstSeq: 0,
      sampleLogins: [],
    });
    const skjoldRssBeforeLoadMiB = Math.round(rssMiB(skjold.pid) ?? 0);
    const ctx: Context = {
      s,
      influx,
      fleet,
      load,
      skjold,
      influxPid: findPid(influx.dataDir) ?? 0,
      store,
      mqttUrl: started.mqttUrl,
      targets,
    };
    const steps: PipelineStep[] = [];
    let current = 0;
    const run = async (rate: number): Promise<boolean> => {
      current = rate;
      const step = await pipelineStep(ctx, rate, steps.length + 1);
      steps.push(step);
      process.stderr.write(
        `  pipeline ${rate} msg/s: achieved ${step.achievedRate}/s, p50 ${step.latencyMs.p50} ms, ` +
          `p99 ${step.latencyMs.p99} ms, lost ${step.lost}${step.pass ? '' : ` — FAIL (${step.failures.join('; ')})`}\n`,
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
      const mid = midpoint(steps);
      if (s.refine && mid !== undefined) await run(mid);
      await skjold.call('stop');
    } catch (err) {
      // A crashed Skjold (or load generator) ends the phase; what was measured until then is kept.
      aborted = `at ${current} msg/s: ${err instanceof Error ? err.message : String(err)}`;
      process.stderr.write(`  pipeline aborted: ${aborted.split('\n')[0]}\n`);
    }
    const best = steps.filter((st) => st.pass).sort((a, b) => b.achievedRate - a.achievedRate)[0];
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
        devices: devices.devices.length,
        registrationS: registered.seconds,
      },
      skjoldRssBeforeLoadMiB,
      latencyDevices: targets.length,
      skjoldSettings: started.settings,
      aborted,
      steps,
    };
  } finally {
    await store.close();
    await skjold.stop();
    await influx.stop();
    await kafka?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const MOCK_CONTROLLER_PATCH = new URL('../test/harness/kafkajs-mock-controller.ts', import.meta.url).pathname;
const KAFKA_TOPIC = 'skjold.bench';
const KAFKA_PARTITIONS = 8;

async function startKafkaOnMock() {
  const mock = await startKafkaMock({ brokers: 3 });
  await mock.createTopic(KAFKA_TOPIC, KAFKA_PARTITIONS, 3);
  process.stderr.write(
    `  Kafka: librdkafka mock cluster at ${mock.bootstrap}, topic ${KAFKA_TOPIC} (${KAFKA_PARTITIONS} partitions)\n`,
  );
  const env = {
    SKJOLD_TRANSPORT: 'kafka',
    ...MOCK_SKJOLD_ENV,
    SKJOLD_KAFKA_BROKERS: mock.bootstrap,
    SKJOLD_KAFKA_TOPIC: KAFKA_TOPIC,
    SKJOLD_KAFKA_WRITER: 'off',
    SKJOLD_KAFKA_LINGER_MS: '50',
  };
  let writer: ServerProcess | undefined;
  return {
    env,
    /** `skjold writer` on the topic, its log in `dir`. */
    startWriter(dir: string, extra: Record<string, string>) {
      writer = spawnServer(
        process.execPath,
        [new URL('../bin/skjold.ts', import.meta.url).pathname, 'writer'],
        {
          name: 'skjold writer',
          logFile: join(dir, 'writer.log'),
          env: { PATH: process.env.PATH, SKJOLD_LOG_LEVEL: 'warn', SKJOLD_DATA_DIR: dir, ...env, ...extra },
        },
      );
    },
    async stop() {
      await writer?.stop('SIGTERM', 10_000);
      await mock.stop();
    },
  };
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
