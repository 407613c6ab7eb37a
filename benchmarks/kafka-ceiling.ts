/**
 * `node benchmarks/kafka-ceiling.ts`: how fast ingest's Kafka producer (kafkajs, through
 * Skjold's transport: idempotent, acks=all, one request in flight) and its librdkafka producer
 * (node-rdkafka through the same transport contract) put
 * points on librdkafka's mock cluster, against librdkafka's own producer
 * (benchmarks/kafka-produce.c, same guarantees) on the same mock — the
 * ceiling of this machine and mock — and, with --variants, how the
 * transport's settings move it. Closed loop: every point is sent as soon as
 * the transport has room, so each figure is what the producer can do, not an
 * offered rate. Writes benchmarks/results/kafka.json and prints a summary.
 *
 *   node benchmarks/kafka-ceiling.ts
 *   node benchmarks/kafka-ceiling.ts --messages 300000 --variants batch=5000/linger=5,batch=20000/linger=5
 */
import '../test/harness/kafkajs-mock-controller.ts';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { createMetrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { librdkafkaBinary, startKafkaMock } from '../test/harness/kafka-mock.ts';
import { createKafkaClient, createProducerTransport } from '../transport/kafka-client.ts';
import { encodeRecord } from '../transport/kafka-message.ts';
import { cpuSeconds, round } from './proc-sampler.ts';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '8' },
    devices: { type: 'string', default: '600' },
    /** Transport settings to measure, `batch=N/linger=MS`, comma-separated; the first is the default config. */
    variants: { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'kafka.json') },
  },
});
const messages = Number(args.messages);
const partitions = Number(args.partitions);
const devices = Number(args.devices);
const defaults = loadConfig({ SKJOLD_TRANSPORT: 'kafka', SKJOLD_KAFKA_BROKERS: 'unused:9092' });
const variants = (
  args.variants ?? `batch=${defaults.SKJOLD_KAFKA_BATCH_MESSAGES}/linger=${defaults.SKJOLD_KAFKA_LINGER_MS}`
)
  .split(',')
  .map((v) => {
    const s = Object.fromEntries(v.split('/').map((kv) => kv.split('=') as [string, string]));
    return { batch: Number(s.batch), linger: Number(s.linger) };
  });

/** A heat meter's point as ingest makes it (pseudonymised tags), ~300 bytes on the topic. */
const point = (i: number): Point => ({
  measurement: 'heat_meter',
  tags: {
    tenant: 'nordvarme',
    device: `v1.device${i % devices}`,
    contract: 'heat-2026',
    role: 'processor',
    purpose: 'billing_and_operations',
    legal_basis: 'contract',
  },
  fields: { energy_kwh: 12345.6 + i, volume_m3: 321.5, flow_c: 71.2, return_c: 40.1, power_kw: 4.2, seq: i },
  integerFields: ['seq'],
  timestampMs: 1_796_000_000_000 + i,
});

const mock = await startKafkaMock({ brokers: 3 });
const mockCpu = () => (mock.pid ? (cpuSeconds(mock.pid) ?? 0) : 0);
let topics = 0;
async function freshTopic(): Promise<string> {
  // A topic per run: the mock keeps only ~5 MiB per partition, and each run starts alike.
  const topic = `bench-${++topics}`;
  await mock.createTopic(topic, partitions, 3);
  return topic;
}

interface Figure {
  producer: string;
  messages: number;
  seconds: number;
  rate: number;
  /** CPU seconds per 1,000 points, of the producing process and of the mock cluster. */
  producerCpuMsPerK: number;
  mockCpuMsPerK: number;
}

function figure(producer: string, seconds: number, producerCpu: number, mockCpuUsed: number): Figure {
  return {
    producer,
    messages,
    seconds: round(seconds, 3),
    rate: Math.round(messages / seconds),
    producerCpuMsPerK: round((producerCpu / messages) * 1e6, 1),
    mockCpuMsPerK: round((mockCpuUsed / messages) * 1e6, 1),
  };
}

async function librdkafka(): Promise<Figure> {
  const topic = await freshTopic();
  // A point a record: librdkafka batches records itself; Skjold's transport packs its points.
  const value = encodeRecord('nordvarme', [point(0)]);
  const mock0 = mockCpu();
  const out = execFileSync(
    librdkafkaBinary(join(import.meta.dirname, 'kafka-produce.c')),
    // The bench's record is ASCII with no NUL, so its bytes pass as an argument unchanged.
    [mock.bootstrap, topic, String(messages), String(devices), '5', value.toString('latin1')],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  const r = JSON.parse(out) as { seconds: number; cpuSeconds: number; delivered: number };
  if (r.delivered !== messages) throw new Error(`librdkafka delivered ${r.delivered} of ${messages}`);
  return figure(
    'librdkafka (C, idempotent, acks=all, linger 5 ms)',
    r.seconds,
    r.cpuSeconds,
    mockCpu() - mock0,
  );
}

/** Skjold's Kafka transport with either producer, as ingest uses it (SKJOLD_KAFKA_PRODUCER). */
async function viaTransport(producer: 'kafkajs' | 'rdkafka', batch: number, linger: number): Promise<Figure> {
  const topic = await freshTopic();
  const logger = createLogger('silent');
  const config = loadConfig({
    SKJOLD_TRANSPORT: 'kafka',
    SKJOLD_KAFKA_BROKERS: mock.bootstrap,
    SKJOLD_KAFKA_PRODUCER: producer,
  });
  const transport = await createProducerTransport(config, {
    kafka: createKafkaClient(config, logger),
    topic,
    metrics: createMetrics({ defaultMetrics: false }),
    logger,
    batchMessages: batch,
    lingerMs: linger,
    bufferPoints: config.SKJOLD_BUFFER_POINTS,
    groupId: 'unused',
  });
  const points = Array.from({ length: messages }, (_, i) => point(i));
  const cpu0 = process.cpuUsage();
  const mock0 = mockCpu();
  const t0 = performance.now();
  await Promise.all(points.map((p) => transport.send('nordvarme', p)));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mockUsed = mockCpu() - mock0;
  await transport.close();
  const name = producer === 'rdkafka' ? 'node-rdkafka (librdkafka)' : 'kafkajs';
  return figure(
    `${name} via Skjold's transport (batch ${batch}, linger ${linger} ms)`,
    seconds,
    (cpu.user + cpu.system) / 1e6,
    mockUsed,
  );
}

const figures: Figure[] = [];
try {
  figures.push(await librdkafka());
  for (const v of variants) {
    figures.push(await viaTransport('rdkafka', v.batch, v.linger));
    figures.push(await viaTransport('kafkajs', v.batch, v.linger));
  }
} finally {
  await mock.stop();
}
const ceiling = figures[0]?.rate ?? 0;
const results = figures.map((f) => ({ ...f, ofCeiling: round(f.rate / ceiling, 3) }));
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(
  args.out,
  `${JSON.stringify({ settings: { messages, partitions, devices, brokers: 3 }, results }, null, 2)}\n`,
);
process.stdout.write(
  `Produce to librdkafka's mock cluster (3 brokers, ${partitions} partitions), ${messages} points, closed loop:\n`,
);
for (const r of results) {
  process.stdout.write(
    `  ${r.producer}: ${r.rate} points/s (${r.ofCeiling} of librdkafka); CPU per 1k points: producer ${r.producerCpuMsPerK} ms, mock ${r.mockCpuMsPerK} ms\n`,
  );
}
process.stdout.write(`results: ${relative(process.cwd(), args.out)}\n`);
