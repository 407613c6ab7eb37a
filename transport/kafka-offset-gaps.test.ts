import '../test/harness/kafkajs-mock-controller.ts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { singleStore, storeWriterFromConfig } from '../app/wiring.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { createMetrics, type Metrics } from '../lib/metrics.ts';
import { waitUntil } from '../lib/process/server-process.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { type KafkaMock, startKafkaMock } from '../test/harness/kafka-mock.ts';
import { createKafkaClient } from './kafka-client.ts';
import { encodeRecord } from './kafka-message.ts';
import { type KafkaWriter, startKafkaWriter } from './kafka-writer.ts';

/**
 * Records Kafka deletes before the writers' group stored them are counted and
 * logged, not skipped in silence. librdkafka's mock cluster keeps at most
 * 5 MiB (or 100,000 record batches) per partition and deletes the oldest
 * beyond that, whether consumed or not: the same as a retention that expires
 * records a writer never got to. Each test produces past that limit on a
 * one-partition topic while the writer cannot store, then checks the count
 * against the log start offset the mock reports.
 */
const TENANT = 'gaps';
const PADDING = 'x'.repeat(200);
let mock: KafkaMock;
let influx: InfluxdServer;
let store: TelemetryStore;
let seq = 0;
const running: KafkaWriter[] = [];

before(async () => {
  [mock, influx] = await Promise.all([startKafkaMock({ brokers: 1 }), startInfluxd()]);
  store = singleStore(config());
});
after(async () => {
  await Promise.all(running.map((w) => w.stop().catch(() => undefined)));
  await store?.close();
  await mock?.stop();
  await influx?.stop();
});

const config = () =>
  loadConfig({
    SKJOLD_TRANSPORT: 'kafka',
    SKJOLD_KAFKA_BROKERS: mock.bootstrap,
    SKJOLD_INFLUX_URL: influx.url,
    SKJOLD_INFLUX_USER: influx.adminUser,
    SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
    SKJOLD_RETRY_MAX_MS: '200',
  });

const client = () => new Kafka({ brokers: mock.brokers, clientId: 'test', logLevel: logLevel.NOTHING });

/** Produces `batches` record batches of `size` Skjold records each, a point a record (one device, increasing seq). */
async function produce(topic: string, batches: number, size: number): Promise<void> {
  const producer = client().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let b = 0; b < batches; b++) {
      const messages = Array.from({ length: size }, () => {
        const n = seq++;
        const value = encodeRecord(TENANT, [
          {
            measurement: 'building_sensor',
            tags: { tenant: TENANT, device: 'v1.gap-device' },
            fields: { seq: n, note_padding: PADDING },
            integerFields: ['seq'],
            timestampMs: 1_700_000_000_000 + n,
          },
        ]);
        return { key: 'v1.gap-device', value };
      });
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

async function offsets(topic: string, group: string) {
  const admin = client().admin();
  await admin.connect();
  try {
    const [part] = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return {
      low: Number(part?.low),
      high: Number(part?.high),
      committed: Number(committed?.partitions[0]?.offset ?? -1),
    };
  } finally {
    await admin.disconnect();
  }
}

interface Running {
  writer: KafkaWriter;
  metrics: Metrics;
  logs: Array<Record<string, unknown>>;
  stored(): Promise<number>;
  expired(): Promise<number>;
  retries(): Promise<number>;
}

async function counter(metrics: Metrics, name: 'kafkaConsumed' | 'writeBatches', outcome: string) {
  const { values } = await metrics[name].get();
  return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

async function startWriter(topic: string, group: string): Promise<Running> {
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line)) });
  const metrics = createMetrics({ defaultMetrics: false });
  const cfg = config();
  const writer = await startKafkaWriter({
    kafka: createKafkaClient(cfg, logger),
    topic,
    groupId: group,
    writer: storeWriterFromConfig(cfg, { store, metrics, logger, stopping: () => false }),
    metrics,
    logger,
    refusedRetryMs: 200,
    batchPoints: 1000,
    bufferPoints: 5000,
  });
  running.push(writer);
  return {
    writer,
    metrics,
    logs,
    stored: () => counter(metrics, 'kafkaConsumed', 'stored'),
    expired: () => counter(metrics, 'kafkaConsumed', 'expired'),
    retries: () => counter(metrics, 'writeBatches', 'retry'),
  };
}

async function committedTo(topic: string, group: string, offset: number) {
  await waitUntil(async () => (await offsets(topic, group)).committed >= offset, {
    what: `group ${group} committed offset ${offset}`,
    timeoutMs: 60_000,
    intervalMs: 100,
  });
}

async function storedRows(): Promise<number> {
  const [row] = await rows(store, TENANT, 'SELECT count(seq) FROM building_sensor');
  return Number(row?.count ?? 0);
}

function gapLog(logs: ReadonlyArray<Record<string, unknown>>) {
  return logs.filter((l) => l.level === 50 && String(l.msg).startsWith('records deleted from Kafka'));
}

test('records deleted before a writer started: counted as expired and logged at error', async () => {
  const topic = 'gaps-at-start';
  const group = `${topic}-writers`;
  await mock.createTopic(topic, 1, 1);
  seq = 0;
  await produce(topic, 1, 100);
  const first = await startWriter(topic, group);
  await committedTo(topic, group, 100);
  await first.writer.stop();
  assert.equal(await first.expired(), 0);

  // ~30 × 240 kB: the mock keeps 5 MiB of the partition and deletes the oldest batches.
  await produce(topic, 30, 1000);
  const { low, high } = await offsets(topic, group);
  assert.ok(low > 100, `the mock deleted records the group had not consumed (log start ${low})`);

  const second = await startWriter(topic, group);
  await committedTo(topic, group, high);
  assert.equal(await second.expired(), low - 100, 'expired = log start offset - committed offset');
  assert.equal(await second.stored(), high - low);
  const [logged, ...more] = gapLog(second.logs);
  assert.equal(more.length, 0);
  assert.deepEqual(
    { p: logged?.partition, e: logged?.expectedOffset, f: logged?.firstOffset, n: logged?.records },
    { p: 0, e: '100', f: String(low), n: low - 100 },
  );
  await second.writer.stop();
  assert.equal(await storedRows(), 100 + high - low);
});

test('records deleted while the writer waited for InfluxDB: counted as expired and logged at error', async () => {
  const topic = 'gaps-in-outage';
  const group = `${topic}-writers`;
  await mock.createTopic(topic, 1, 1);
  const before = await storedRows();
  seq = 100_000;
  await produce(topic, 1, 100);
  const w = await startWriter(topic, group);
  await committedTo(topic, group, 100);

  await influx.kill();
  await produce(topic, 1, 100);
  // The writer holds offsets 100-199 and retries them: it fetches nothing more meanwhile.
  await waitUntil(async () => (await w.retries()) > 0, { what: 'the writer retrying', timeoutMs: 30_000 });
  await produce(topic, 30, 1000);
  const { low, high } = await offsets(topic, group);
  assert.ok(low > 200, `the mock deleted records the writer had not fetched (log start ${low})`);
  await influx.restart();

  await committedTo(topic, group, high);
  assert.equal(await w.expired(), low - 200, 'expired = log start offset - offset after the stored batch');
  assert.equal(await w.stored(), 200 + high - low);
  const [logged, ...more] = gapLog(w.logs);
  assert.equal(more.length, 0);
  assert.deepEqual(
    { p: logged?.partition, e: logged?.expectedOffset, f: logged?.firstOffset, n: logged?.records },
    { p: 0, e: '200', f: String(low), n: low - 200 },
  );
  assert.equal((await storedRows()) - before, 200 + high - low);
});
