/**
 * Skjold end to end, ready for load: a fresh influxd, Skjold in its own
 * process with the runtime settings `skjold start` gives itself, the bench
 * fleet registered and warmed up. Phase C's steps and the soak run on it.
 * With `s.kafka` the transport is librdkafka's mock cluster and the store
 * writer a `skjold writer` process (see phase-pipeline.ts for why its settings).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTIME_ENV, tunedExecArgv } from '../lib/process/runtime-tuning.ts';
import { type ServerProcess, spawnServer } from '../lib/process/server-process.ts';
import { createInfluxV1Store } from '../store/influx-v1.ts';
import { startInfluxd } from '../test/harness/influxd.ts';
import { MOCK_SKJOLD_ENV, startKafkaMock } from '../test/harness/kafka-mock.ts';
import type { BenchSettings } from './args.ts';
import { benchFleet, type FleetSpec } from './bench-fleet.ts';
import { type Child, forkChild } from './ipc.ts';
import type { Context } from './pipeline-step.ts';
import { findPid, rssMiB } from './proc-sampler.ts';
import { registerBenchFleet } from './register-fleet.ts';
import type { SkjoldStarted } from './skjold-process.ts';

/** Every device authenticates once (scrypt, then cached), the databases exist, the code is hot. */
export async function warmUp(load: Child, mqttUrl: string, fleet: FleetSpec): Promise<void> {
  await load.call('mqttLoad', {
    mqttUrl,
    fleet,
    totalRate: 2_000,
    durationMs: 3_000,
    maxInflight: 2_000,
    firstSeq: 0,
    sampleLogins: [],
  });
}

export interface Pipeline {
  ctx: Context;
  started: SkjoldStarted;
  devices: number;
  registrationS: number;
  /** Skjold's resident memory after start, registration and warm-up (PGlite, code, caches). */
  skjoldRssBeforeLoadMiB: number;
  /** Stops Skjold, influxd and the Kafka mock; removes the data directory. */
  close(): Promise<void>;
}

export async function startPipeline(s: BenchSettings, fleet: FleetSpec, load: Child): Promise<Pipeline> {
  const influx = await startInfluxd();
  const kafka = s.kafka ? await startKafkaOnMock() : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'skjold-bench-'));
  // With the runtime settings `skjold start` gives itself (bin/skjold.ts).
  const skjold = forkChild(
    'skjold',
    new URL('./skjold-process.ts', import.meta.url).pathname,
    [
      ...tunedExecArgv(s.skjoldNodeOptions),
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
  const close = async (): Promise<void> => {
    await store.close();
    await skjold.stop();
    await influx.stop();
    await kafka?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
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
    await warmUp(load, started.mqttUrl, fleet);
    return {
      ctx: {
        s,
        influx,
        fleet,
        load,
        skjold,
        influxPid: findPid(influx.dataDir) ?? 0,
        store,
        mqttUrl: started.mqttUrl,
        targets,
      },
      started,
      devices: devices.devices.length,
      registrationS: registered.seconds,
      skjoldRssBeforeLoadMiB: Math.round(rssMiB(skjold.pid) ?? 0),
      close,
    };
  } catch (err) {
    await close();
    throw err;
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
