/**
 * `npm run bench:pipeline [-- --quick] [--duration <s>] [--rates a,b,…] [--broker-rates a,b,…]
 *  [--skjold SKJOLD_NAME=value …] [--node-option --flag=value …] [--phases A,B,C,W] [--workers 1,2] [--worker-rates a,b,…] [--kafka] [--profile] [--no-stages] [--out <file>]`
 */
import { parseArgs } from 'node:util';

export interface BenchSettings {
  quick: boolean;
  /** Which of A (InfluxDB alone), B (broker alone), C (end to end), W (worker scaling) to run; all four unless `--phases`. */
  phases: string[];
  /** Devices of each kind per tenant (2 tenants × 3 kinds). */
  devicesPerKind: number;
  influxMs: number;
  influxBatchPoints: number;
  influxWriters: number;
  brokerStepMs: number;
  brokerRates: number[];
  pipelineStepMs: number;
  /** Tried in order while they pass; when the first fails, `pipelineFallbackRates` are tried. */
  pipelineRates: number[];
  /** Phase W's offered rates, each run with every worker count. */
  workerRates: number[];
  pipelineFallbackRates: number[];
  /** Steps halfway between the highest passing and the lowest failing rate, until they are < 2,000 apart. */
  refine: boolean;
  /** Devices whose every message is followed to InfluxDB for latency. */
  latencyDevices: number;
  probeIntervalMs: number;
  /** Phase W: the SKJOLD_WORKERS values to compare, in order (`--workers`). */
  workers: number[];
  /** Extra Skjold settings (`--skjold SKJOLD_BATCH_POINTS=5000`), applied over the benchmark's own. */
  skjoldEnv: Record<string, string>;
  /** node/V8 options for the Skjold process of phase C (`--node-option`, repeatable). */
  skjoldNodeOptions: string[];
  /** Phase C on the Kafka transport, against librdkafka's mock cluster (`--kafka`). */
  kafka: boolean;
  /** Directory for a V8 CPU profile of the Skjold process (`--profile`), or null. */
  profileDir: string | null;
  /** A CPU profile of Skjold per end-to-end step, summed into CPU per message by stage (`--stages`). */
  stages: boolean;
  out: string;
}

/**
 * Phase C's offered rates, climbed until a step fails and then refined. They go
 * well past what the reference machine sustains, so the capacity a run reports
 * (and the soak's 70 % of it) is found, not where the list ran out.
 */
export const PIPELINE_RATES = [
  15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 45_000, 50_000, 55_000, 60_000,
];

const rateList = (s: string): number[] =>
  s.split(',').map((v) => {
    const n = Number(v.trim());
    if (!(n > 0)) throw new Error(`not a rate: ${v}`);
    return n;
  });

export function parseSettings(argv: string[]): BenchSettings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      rates: { type: 'string' },
      'broker-rates': { type: 'string' },
      out: { type: 'string' },
      skjold: { type: 'string', multiple: true },
      'node-option': { type: 'string', multiple: true },
      profile: { type: 'boolean', default: false },
      stages: { type: 'boolean', default: true },
      'no-stages': { type: 'boolean', default: false },
      kafka: { type: 'boolean', default: false },
      phases: { type: 'string', default: 'A,B,C,W' },
      'worker-rates': { type: 'string' },
      workers: { type: 'string', default: '1,2' },
    },
    strict: true,
  });
  const quick = values.quick === true;
  const stepS = values.duration !== undefined ? Number(values.duration) : quick ? 8 : 30;
  if (!(stepS >= 2)) throw new Error('--duration is seconds per end-to-end step, at least 2');
  const phases = values.phases.split(',').map((p) => p.trim().toUpperCase());
  if (phases.some((p) => !['A', 'B', 'C', 'W'].includes(p)))
    throw new Error('--phases is a list of A, B, C and W');
  const workers = values.workers.split(',').map((w) => Number(w.trim()));
  if (workers.some((w) => !Number.isInteger(w) || w < 1))
    throw new Error('--workers is a list of worker counts');
  return {
    quick,
    phases,
    devicesPerKind: 100,
    influxMs: Math.max(5, stepS / 2) * 1000,
    influxBatchPoints: 2000,
    influxWriters: 2,
    brokerStepMs: Math.max(4, stepS / 3) * 1000,
    brokerRates: values['broker-rates']
      ? rateList(values['broker-rates'])
      : quick
        ? [10_000, 20_000]
        : [10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000],
    pipelineStepMs: stepS * 1000,
    pipelineRates: values.rates ? rateList(values.rates) : quick ? [15_000] : PIPELINE_RATES,
    pipelineFallbackRates: [10_000, 5_000],
    workerRates: values['worker-rates']
      ? rateList(values['worker-rates'])
      : values.rates
        ? rateList(values.rates)
        : quick
          ? [15_000]
          : [25_000, 35_000],
    refine: !quick,
    latencyDevices: 12,
    probeIntervalMs: 100,
    workers,
    skjoldEnv: Object.fromEntries(
      (values.skjold ?? []).map((kv) => {
        const eq = kv.indexOf('=');
        if (!kv.startsWith('SKJOLD_') || eq < 0)
          throw new Error(`--skjold wants SKJOLD_NAME=value, got ${kv}`);
        return [kv.slice(0, eq), kv.slice(eq + 1)];
      }),
    ),
    skjoldNodeOptions: values['node-option'] ?? [],
    kafka: values.kafka === true,
    profileDir: values.profile ? new URL('./results/profiles/', import.meta.url).pathname : null,
    stages: values.stages === true && values['no-stages'] !== true,
    out: values.out ?? new URL('./results/latest.json', import.meta.url).pathname,
  };
}
