/**
 * Store writers on the Kafka path, run as `skjold writer` child processes the
 * way they are deployed: a writer killed in the middle of its work leaves its
 * uncommitted batches to the next one; a replay writes points again without
 * duplicating them (a point's identity is measurement, tags and device time);
 * and with InfluxDB down for 30 s devices keep being acknowledged — Kafka
 * holds the points — and everything arrives once it is back, with no record
 * deleted before it was stored.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { type ServerProcess, spawnServer, waitUntil } from '../../lib/process/server-process.ts';
import { rows } from '../harness/influx-rows.ts';
import { type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { MOCK_SKJOLD_ENV } from '../harness/kafka-mock.ts';
import { type KafkaStack, startKafkaStack } from '../harness/kafka-stack.ts';
import { type AckedLoad, startAckedLoad } from './acked-load.ts';
import { addTenantFleet, type TestDevice } from './devices.ts';

const T0 = Date.now() - 3_600_000;
const GROUP = 'writers-under-test';
const ROOT = join(import.meta.dirname, '../..');
let influx: InfluxdServer;
let stack: KafkaStack;
let logDir: string;
const writers: ServerProcess[] = [];

before(async () => {
  influx = await startInfluxd();
  // Ingest only: the writers are child processes.
  stack = await startKafkaStack({ SKJOLD_KAFKA_WRITER: 'off', SKJOLD_KAFKA_GROUP: GROUP }, { influx });
  logDir = mkdtempSync(join(tmpdir(), 'skjold-writers-'));
});
after(async () => {
  await Promise.all(writers.map((w) => w.stop('SIGKILL', 1000)));
  await stack?.stop();
  await influx?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

function startWriter(name: string, group = GROUP): ServerProcess {
  const proc = spawnServer(join(ROOT, 'node_modules/.bin/node'), [join(ROOT, 'bin/skjold.ts'), 'writer'], {
    name: `writer ${name}`,
    logFile: join(logDir, `${name}.log`),
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      SKJOLD_LOG_LEVEL: 'info',
      SKJOLD_TRANSPORT: 'kafka',
      ...MOCK_SKJOLD_ENV,
      SKJOLD_KAFKA_BROKERS: stack.kafka.bootstrap,
      SKJOLD_KAFKA_TOPIC: stack.topic,
      SKJOLD_KAFKA_GROUP: group,
      SKJOLD_INFLUX_URL: influx.url,
      SKJOLD_INFLUX_USER: influx.adminUser,
      SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
      SKJOLD_RETRY_MAX_MS: '500',
      SKJOLD_DATA_DIR: join(logDir, name),
    },
  });
  writers.push(proc);
  return proc;
}

const fleet = (tenant: string, n: number): Promise<TestDevice[]> => addTenantFleet(stack.api, tenant, n);

async function allStored(load: AckedLoad, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await load.assertAllStored(stack.skjold.store);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await delay(250);
    }
  }
}

/** Rows per device, to compare before and after a replay. */
async function rowCounts(devices: readonly TestDevice[]): Promise<number[]> {
  return Promise.all(
    devices.map(
      async (d) =>
        (
          await rows(
            stack.skjold.store,
            d.tenantId,
            `SELECT seq FROM ${d.kind} WHERE device = '${d.pseudonym}'`,
          )
        ).length,
    ),
  );
}

const admin = () =>
  new Kafka({ brokers: stack.kafka.brokers, clientId: 'test-admin', logLevel: logLevel.NOTHING }).admin();

/** Resolves when the group has committed every offset up to the end of each partition. */
async function caughtUp(group = GROUP, timeoutMs = 120_000): Promise<void> {
  const a = admin();
  await a.connect();
  /** Partitions whose committed offset is short of their end, as `partition: committed/end`. */
  const behind = async (): Promise<string[]> => {
    const ends = await a.fetchTopicOffsets(stack.topic);
    const [committed] = await a.fetchOffsets({ groupId: group, topics: [stack.topic] });
    return ends.flatMap((e) => {
      // A partition no device's key landed on holds nothing to write, and no writer commits for it.
      if (BigInt(e.high) <= BigInt(e.low)) return [];
      const c = committed?.partitions.find((p) => p.partition === e.partition);
      return c !== undefined && BigInt(c.offset) >= BigInt(e.high)
        ? []
        : [`${e.partition}: ${c?.offset}/${e.high}`];
    });
  };
  try {
    await waitUntil(async () => (await behind()).length === 0, {
      what: 'writers caught up with the topic',
      timeoutMs,
      intervalMs: 200,
    }).catch(async (err: Error) => {
      throw new Error(
        `${err.message} Still behind (partition: committed/end): ${(await behind()).join(', ')}`,
        {
          cause: err,
        },
      );
    });
  } finally {
    await a.disconnect();
  }
}

/** A writer's log lines (pino JSON), after checking the log is the running writer's. */
function writerLog(name: string): Array<{ level: number; msg: string }> {
  const lines = readFileSync(join(logDir, `${name}.log`), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
  assert.ok(
    lines.some((l) => l.msg === 'store writer consuming'),
    `${name}: no 'store writer consuming' in its log`,
  );
  return lines;
}

let devices: TestDevice[] = [];

test('a writer killed in the middle of its work: the next one writes what it had not committed', async () => {
  devices = await fleet('writers-a', 12);
  const first = startWriter('first');
  const load = startAckedLoad(stack.mqttUrl, devices, { t0: T0 });
  await load.progress(30);
  await waitUntil(async () => (await rowCounts(devices)).some((n) => n > 0), {
    what: 'the first writer stored something',
    timeoutMs: 60_000,
    process: first,
  });
  await first.stop('SIGKILL', 0);
  await load.progress(30);
  startWriter('second');
  await load.progress(30);
  await load.stop();
  const result = await allStored(load);
  assert.ok(result.acked >= 12 * 90, `acked ${result.acked}`);
});

test('a replay from the beginning of the topic writes every point again, and the store holds each once', async () => {
  await caughtUp();
  const before = await rowCounts(devices);
  await Promise.all(writers.map((w) => w.stop('SIGTERM', 10_000)));
  // A group with no committed offsets starts at the beginning: the same as a writer that
  // never committed, at the scale of the whole topic.
  const replay = startWriter('replay', 'replaying-writers');
  await caughtUp('replaying-writers');
  assert.deepEqual(await rowCounts(devices), before, 'the rewrite overwrote itself');
  await replay.stop('SIGTERM', 10_000);
});

test('InfluxDB down for 30 s under load: devices are still acknowledged, and everything arrives', async () => {
  const more = await fleet('writers-b', 9);
  startWriter('through-outage');
  // librdkafka's mock cluster keeps 5 MiB per partition (about 10,000 of these records) and
  // deletes the oldest beyond that, stored or not (docs/kafka.md). A reading every 40 ms keeps the
  // outage's backlog under 9 × 25/s × 30 s = 6,750 records even if all nine devices share a
  // partition, so what this measures is Skjold, not the mock's limit.
  const load = startAckedLoad(stack.mqttUrl, more, { t0: T0, intervalMs: 40 });
  await load.progress(20);
  await influx.kill();
  const ackedAtOutage = load.acked();
  await delay(30_000);
  const ackedDuringOutage = load.acked() - ackedAtOutage;
  assert.ok(ackedDuringOutage > 9 * 50, `acknowledged during the outage: ${ackedDuringOutage}`);
  await influx.restart();
  await load.progress(20);
  await load.stop();
  const result = await allStored(load);
  assert.ok(result.acked > ackedAtOutage + ackedDuringOutage - 1);
  await caughtUp();
  // skjold_kafka_points_consumed_total{outcome="expired"} stays 0: `skjold writer` has no
  // /metrics, and its error line is the same signal (transport/kafka-offset-gaps.ts).
  const log = writerLog('through-outage');
  assert.deepEqual(
    log.filter((l) => /records deleted from Kafka|Offset out of range/.test(l.msg)),
    [],
    'no record was deleted before it was stored',
  );
});
