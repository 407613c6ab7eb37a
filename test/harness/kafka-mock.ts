import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { onExit } from '../../lib/process/exit-cleanup.ts';

const SOURCE = join(import.meta.dirname, 'kafka-mock.c');
const INSTALL_HINT =
  'The Kafka tests need librdkafka-dev and a C compiler (Debian: apt-get install librdkafka-dev gcc; scripts/setup.sh does it).';

/** Kafka protocol error codes the tests inject (Kafka's own numbering). */
export const KafkaErrors = {
  REQUEST_TIMED_OUT: 7,
  NOT_LEADER_FOR_PARTITION: 6,
  LEADER_NOT_AVAILABLE: 5,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  TOPIC_AUTHORIZATION_FAILED: 29,
} as const;

/**
 * Settings a Skjold needs against this mock: librdkafka 2.0's mock cluster
 * answers neither DescribeConfigs nor CreateTopics, so the topic's retention
 * cannot be read and the retention check would refuse to start
 * (transport/kafka-topic.ts; transport/kafka-topic.test.ts tests both outcomes).
 */
export const MOCK_SKJOLD_ENV = { SKJOLD_KAFKA_RETENTION_CHECK: 'warn' } as const;

/** Kafka API keys, for `requestErrors`. */
export const KafkaApi = { Produce: 0, Fetch: 1, OffsetCommit: 8, JoinGroup: 11 } as const;

export interface KafkaMock {
  /** bootstrap.servers, comma-separated host:port. */
  bootstrap: string;
  /** The mock's process id (a benchmark reads its CPU time). */
  pid: number | undefined;
  brokers: string[];
  createTopic(name: string, partitions: number, replication?: number): Promise<void>;
  brokerDown(id: number): Promise<void>;
  brokerUp(id: number): Promise<void>;
  setLeader(topic: string, partition: number, brokerId: number): Promise<void>;
  /** The next requests of `apiKey` (any broker) fail with these Kafka error codes, one each, in order. */
  requestErrors(apiKey: number, codes: readonly number[]): Promise<void>;
  setRtt(brokerId: number, ms: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Compiles a C program against librdkafka once per source version; the binary
 * is cached in the temp dir (the mock cluster here, the benchmark's producer).
 */
export function librdkafkaBinary(source: string): string {
  const text = readFileSync(source);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'skjold-kafka-mock');
  const binary = join(dir, `${basename(source, '.c')}-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const building = `${binary}.${process.pid}`;
  try {
    execFileSync('cc', ['-O1', '-o', building, source, '-lrdkafka'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    throw new Error(`could not compile ${source}: ${stderr}\n${INSTALL_HINT}`, { cause: err });
  }
  renameSync(building, binary); // atomic: a parallel test never runs a half-written binary
  return binary;
}

export const kafkaMockBinary = (): string => librdkafkaBinary(SOURCE);

/**
 * Starts librdkafka's mock Kafka cluster with `brokers` brokers (ids 1..n)
 * and returns its bootstrap servers and the fault-injection commands.
 */
export async function startKafkaMock(options: { brokers?: number } = {}): Promise<KafkaMock> {
  const child = spawn(kafkaMockBinary(), [String(options.brokers ?? 3)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const unregister = onExit(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  let exited = false;
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.once('exit', (code, signal) => {
    exited = true;
    unregister();
    const err = new Error(`kafka-mock exited (code ${code}, signal ${signal}): ${stderr}`);
    while (waiting.length > 0) waiting.shift()?.reject(err);
  });
  const nextLine = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));

  const first = await nextLine();
  const bootstrap = first.replace(/^bootstrap /, '');
  if (!first.startsWith('bootstrap ')) throw new Error(`kafka-mock: unexpected first line ${first}`);

  // One command at a time: each answers one line.
  let chain: Promise<unknown> = Promise.resolve();
  function command(text: string): Promise<void> {
    const run = chain.then(async () => {
      if (exited) throw new Error(`kafka-mock is not running (${text})`);
      const answer = nextLine();
      child.stdin.write(`${text}\n`);
      const line = await answer;
      if (line !== 'ok') throw new Error(`kafka-mock: ${text}: ${line}`);
    });
    chain = run.catch(() => {});
    return run;
  }

  return {
    bootstrap,
    pid: child.pid,
    brokers: bootstrap.split(','),
    createTopic: (name, partitions, replication = 1) => command(`topic ${name} ${partitions} ${replication}`),
    brokerDown: (id) => command(`down ${id}`),
    brokerUp: (id) => command(`up ${id}`),
    setLeader: (topic, partition, id) => command(`leader ${topic} ${partition} ${id}`),
    requestErrors: (apiKey, codes) => command(`errors ${apiKey} ${codes.join(' ')}`),
    setRtt: (id, ms) => command(`rtt ${id} ${ms}`),
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}
