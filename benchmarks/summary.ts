/** The human summary printed at the end of `npm run bench`. */
import type { machineInfo } from './machine.ts';
import type { BrokerPhase } from './phase-broker.ts';
import type { InfluxPhase } from './phase-influx.ts';
import type { PipelinePhase } from './phase-pipeline.ts';
import type { WorkersPhase } from './phase-workers.ts';
import type { PhaseUsage } from './proc-sampler.ts';

export interface SummaryInput {
  machine: ReturnType<typeof machineInfo>;
  influx: InfluxPhase | null;
  broker: BrokerPhase | null;
  pipeline: PipelinePhase | null;
  workers?: WorkersPhase | null;
  comparison: { slowerCeiling: string; ratioToSlowerCeiling: number; overheadPct: number } | null;
  target: { minRate: number; pass: boolean; failures: string[] };
  warnings: string[];
  out: string;
}

const n = (v: number): string => v.toLocaleString('en-US');

function usageLine(usage: PhaseUsage): string {
  const procs = Object.entries(usage.processes)
    .map(([name, p]) => {
      // Only node's main thread is telling (the event loop); influxd spreads over goroutines.
      const main = name === 'influxd' ? '' : ` (main thread ${p.mainThreadCoresAvg})`;
      return `${name} ${p.cpuCoresAvg}${main}/${p.rssPeakMiB} MiB`;
    })
    .join(', ');
  return (
    `${procs}; kernel irq ${usage.kernelIrqCores}, other processes ${usage.otherCores}; ` +
    `machine ${Math.round(usage.machineBusy * 100)} % busy`
  );
}

function influxLines(influx: InfluxPhase | null): string[] {
  if (!influx) return ['A  InfluxDB alone   not run'];
  return [
    `A  InfluxDB alone   ${n(influx.pointsPerSecond)} points/s (${influx.writers} writers × ${n(influx.batchPoints)}-point batches, ${influx.durationS} s)`,
  ];
}

function brokerLines(broker: BrokerPhase | null): string[] {
  if (!broker) return ['B  aedes alone      not run'];
  const kept = broker.sustainedMsgPerSecond;
  const crash = broker.steps.find((st) => st.crashed);
  return [
    `B  aedes alone      ${n(broker.ceilingMsgPerSecond)} msg/s forwarded at QoS 1, zero loss` +
      (kept > 0 ? ` (kept up with the offered load to ${n(kept)})` : ' (saturated at every offered rate)') +
      (crash ? `; crashed at ${n(crash.targetRate)} offered` : ''),
  ];
}

function pipelineLines(pipeline: PipelinePhase | null): string[] {
  if (!pipeline) return ['C  end to end       not run'];
  const s = pipeline.sustained;
  if (!s)
    return [
      `C  end to end       no step passed${pipeline.aborted ? ` (aborted ${pipeline.aborted.split('\n')[0]})` : ''}`,
    ];
  return [
    `C  end to end       ${n(s.achievedRate)} msg/s at QoS 1 (${n(s.targetRate)} offered), zero loss; publish→queryable p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms`,
    ...(pipeline.aborted ? [`   then aborted ${pipeline.aborted.split('\n')[0]}`] : []),
  ];
}

function workersLines(workers: WorkersPhase | null | undefined): string[] {
  if (!workers) return [];
  const out = ['W  worker processes (SKJOLD_WORKERS; PostgreSQL registry, Redis, same fleet):'];
  for (const st of workers.steps) {
    out.push(
      `   ${st.workers} at ${n(st.targetRate)} offered: ${n(st.achievedRate)} msg/s achieved, lost ${st.lost}, ` +
        `unacked ${st.unacked}; Skjold ${st.skjoldCores} cores = ${st.workerCores.join(' + ')}` +
        `${st.workers > 1 ? ' (+ primary)' : ''}; ${usageLine(st.usage)}`,
    );
  }
  const best = Object.entries(workers.bestByWorkers).map(([w, rate]) => `${w}: ${n(rate)} msg/s`);
  if (best.length > 0) out.push(`   highest achieved with nothing lost, by workers: ${best.join(', ')}`);
  if (workers.aborted) out.push(`   aborted ${workers.aborted.split('\n')[0]}`);
  return out;
}

function usageLines(r: SummaryInput): string[] {
  const out = ['cores used on average / peak RSS per process:'];
  if (r.influx) out.push(`   A: ${usageLine(r.influx.usage)}`);
  for (const st of r.broker?.steps ?? []) {
    const note = st.crashed ? ' (crashed)' : st.keptUp ? '' : ' (saturated)';
    out.push(`   B at ${n(st.targetRate)}${note}: ${usageLine(st.usage)}`);
  }
  for (const st of r.pipeline?.steps ?? []) {
    const note = st.pass ? '' : ` (failed: ${st.failures.join('; ')})`;
    out.push(`   C at ${n(st.targetRate)}${note}: ${usageLine(st.usage)}`);
  }
  const steps = r.pipeline?.steps ?? [];
  if (steps.length > 0)
    out.push(
      "inside Skjold (CPU per acknowledged message; store write seen by Skjold / inside influxd; event loop delay; GC pauses; points not yet in the store; the spool's mean group commit):",
    );
  for (const st of steps) {
    const rt = st.skjoldRuntime;
    const gcShare = Math.round(rt.gc.totalMs / 10 / Math.max(1, st.usage.durationS));
    const cpu = st.cpuPerMessageUs;
    const commits = st.spoolCommits;
    const spool =
      commits.count > 0 ? `; spool commit ${commits.meanMs} ms (${n(commits.meanRecords)} records)` : '';
    out.push(
      `   C at ${n(st.targetRate)}: CPU per message ${cpu.total} µs (Skjold ${cpu.skjold} + influxd ${cpu.influxd}); ` +
        `write ${st.storeWrites.meanMs} / ${st.influxd.writeMeanMs} ms ` +
        `(${st.storeWrites.meanPoints} points); loop delay p99 ${rt.eventLoopDelayMs.p99} ms, ` +
        `max ${rt.eventLoopDelayMs.max} ms; GC pauses ${gcShare} % of the time; buffer max ${n(rt.bufferedMax)} points${spool}`,
    );
  }
  return out;
}

export function summary(r: SummaryInput): string {
  const lines = [
    '',
    `Skjold benchmark — ${r.machine.cpus} CPUs, node ${r.machine.node}, ${r.machine.influxd}`,
    ...influxLines(r.influx),
    ...brokerLines(r.broker),
    ...pipelineLines(r.pipeline),
    ...(r.comparison
      ? [
          `   ÷ slower ceiling (${r.comparison.slowerCeiling}) = ${r.comparison.ratioToSlowerCeiling} → overhead ${r.comparison.overheadPct} %`,
        ]
      : []),
    `   target ≥ ${n(r.target.minRate)} msg/s offered, ≥ 97 % achieved, zero loss, p99 < 1 s: ${r.target.pass ? 'PASS' : `FAIL (${r.target.failures.join('; ')})`}`,
    ...workersLines(r.workers),
    ...usageLines(r),
    ...r.warnings.map((w) => `warning: ${w}`),
    `results: ${r.out}`,
    '',
  ];
  return lines.join('\n');
}
