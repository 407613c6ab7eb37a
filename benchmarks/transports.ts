/**
 * `npm run bench:transports` (also part of `npm run bench`): the end-to-end
 * phase of run.ts once per transport — the in-process queue (a PUBACK after
 * the InfluxDB write), the local spool (a PUBACK after fsync) and Kafka
 * (a PUBACK after acks=all, against librdkafka's mock cluster, with the store
 * writer as its own `skjold writer` process) — with the same fleet, rates and
 * step length, so the cost of durability is a stated ratio. After the search,
 * one more step at each path's sustained rate profiles Skjold's CPU and
 * reports it per message by stage (cpu-stages.ts; `--no-stages` leaves it out). Writes
 * benchmarks/results/transports.json and prints a summary.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { PIPELINE_RATES } from './args.ts';
import { type CpuStages, stagesLine } from './cpu-stages.ts';

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: ['10000', ...PIPELINE_RATES.map(String)].join(',') },
    duration: { type: 'string', default: '20' },
    transports: { type: 'string', default: 'memory,spool,kafka' },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'transports.json') },
    /** Without a CPU profile per step (no stage figures), for a run with no profiler at all. */
    'no-stages': { type: 'boolean', default: false },
  },
});

interface Sustained {
  achievedRate?: number;
  targetRate?: number;
  p50Ms?: number;
  p99Ms?: number;
}

interface PathResult {
  transport: string;
  /** The highest step that passed (zero loss, ≥ 97 % of the offered rate, p99 < 1 s), or null. */
  sustained: Sustained | null;
  steps: Array<{
    targetRate: number;
    achievedRate: number;
    lost: number;
    p99?: number;
    pass: boolean;
  }>;
  /** Skjold's main-thread CPU per message by stage (µs), from one more step at the sustained rate, profiled. */
  cpuStages: { targetRate: number; stages: CpuStages } | null;
  resultsFile: string;
}

function profiled(
  step: { targetRate: number; skjoldRuntime?: { cpuStages?: CpuStages | null } } | null | undefined,
): PathResult['cpuStages'] {
  const stages = step?.skjoldRuntime?.cpuStages;
  return step && stages ? { targetRate: step.targetRate, stages } : null;
}

function runPath(transport: string): PathResult {
  const file = join(dirname(args.out), `pipeline-${transport}.json`);
  const phaseArgs = [
    '--phases',
    'C',
    '--rates',
    args.rates,
    '--duration',
    args.duration,
    '--out',
    file,
    ...(args['no-stages'] ? [] : ['--stages']),
  ];
  const extra = transport === 'kafka' ? ['--kafka'] : ['--skjold', `SKJOLD_TRANSPORT=${transport}`];
  process.stdout.write(`transports: ${transport}…\n`);
  const run = spawnSync(process.execPath, [join(import.meta.dirname, 'run.ts'), ...phaseArgs, ...extra], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (run.status !== 0) throw new Error(`run.ts for ${transport} exited with ${run.status}`);
  const results = JSON.parse(readFileSync(file, 'utf8')) as {
    phases: {
      pipeline: {
        sustained?: Sustained;
        steps: Array<Record<string, unknown>>;
        stageProfile?: { targetRate: number; skjoldRuntime?: { cpuStages?: CpuStages | null } } | null;
      };
    };
  };
  const pipeline = results.phases.pipeline;
  return {
    transport,
    sustained: pipeline.sustained?.achievedRate ? pipeline.sustained : null,
    steps: pipeline.steps.map((s) => ({
      targetRate: Number(s.targetRate),
      achievedRate: Number(s.achievedRate),
      lost: Number(s.lost),
      p99: (s.latencyMs as { p99?: number } | undefined)?.p99,
      pass: s.pass === true,
    })),
    cpuStages: profiled(pipeline.stageProfile),
    resultsFile: relative(process.cwd(), file),
  };
}

const paths = args.transports.split(',').map((t) => runPath(t.trim()));
const memory = paths.find((p) => p.transport === 'memory')?.sustained?.achievedRate;
const ratios = Object.fromEntries(
  paths
    .filter((p) => p.transport !== 'memory')
    .map((p) => [
      p.transport,
      memory && p.sustained?.achievedRate
        ? Math.round((p.sustained.achievedRate / memory) * 1000) / 1000
        : null,
    ]),
);
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(
  args.out,
  `${JSON.stringify({ settings: { rates: args.rates, durationS: Number(args.duration) }, paths, ratioToMemory: ratios }, null, 2)}\n`,
);
process.stdout.write('\nSustained end to end, zero loss, p99 < 1 s (highest passing step):\n');
for (const p of paths) {
  const s = p.sustained;
  process.stdout.write(
    `  ${p.transport.padEnd(7)} ${s ? `${s.achievedRate} msg/s (offered ${s.targetRate}), p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms` : 'no step passed'}` +
      `${p.transport !== 'memory' ? `; ÷ in-process = ${ratios[p.transport] ?? 'n/a'}` : ''}\n`,
  );
  for (const st of p.steps) {
    process.stdout.write(
      `    ${st.targetRate} msg/s offered: ${st.achievedRate}/s, p99 ${st.p99} ms, lost ${st.lost}${st.pass ? '' : ' (fail)'}\n`,
    );
  }
  if (p.cpuStages) {
    process.stdout.write(
      `    profiled once more at ${p.cpuStages.targetRate}: ${stagesLine(p.cpuStages.stages)}\n`,
    );
  }
}
process.stdout.write(`results: ${relative(process.cwd(), args.out)}\n`);
