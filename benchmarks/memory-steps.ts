/**
 * `node benchmarks/memory-steps.ts [--rates a,b,…] [--duration s]`: where
 * Skjold's resident memory is, step by step. One Skjold as `npm run bench`
 * starts it (the same runtime settings, fleet and warm-up), then phase C's
 * steps at the given rates, in that order, none skipped after a failure. Before
 * the load and after each step (at once, and 5 s later, idle) it prints
 * `process.memoryUsage()`, V8's heap spaces and the process's resident memory
 * by mapping (`/proc/<pid>/smaps`: the node binary, anonymous memory, glibc's
 * main heap), and for each step its peak RSS, GC pauses and CPU per message.
 * benchmarks/README.md, "Memory", was measured with it.
 */
import { readFileSync } from 'node:fs';
import { parseSettings } from './args.ts';
import type { FleetSpec } from './bench-fleet.ts';
import { forkChild } from './ipc.ts';
import { startPipeline } from './pipeline-setup.ts';
import { pipelineStep } from './pipeline-step.ts';

/** Resident MiB by mapping: file mappings by file name, `[anon]`, `[heap]`, …; those under 4 MiB left out. */
function residentByMapping(pid: number): Record<string, number> {
  const kib: Record<string, number> = {};
  let mapping = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1] || '[anon]';
      mapping = name.startsWith('/') ? (name.split('/').pop() ?? name) : name;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kib[mapping] = (kib[mapping] ?? 0) + Number(rss[1]);
  }
  return Object.fromEntries(
    Object.entries(kib)
      .filter(([, v]) => v >= 4096)
      .map(([k, v]) => [k, Math.round(v / 1024)]),
  );
}

const s = parseSettings(process.argv.slice(2));
const fleet: FleetSpec = { seed: 'skjold-bench', devicesPerKind: s.devicesPerKind };
const load = forkChild('load', new URL('./load-process.ts', import.meta.url).pathname);
const pipeline = await startPipeline(s, fleet, load);
const { skjold } = pipeline.ctx;
const report = async (label: string): Promise<void> => {
  const memory = await skjold.call<Record<string, number>>('memory');
  process.stdout.write(
    `${label}: ${JSON.stringify(memory)}\n  resident by mapping: ${JSON.stringify(residentByMapping(skjold.pid))}\n`,
  );
};
try {
  await report('idle, before the load');
  let index = 0;
  for (const rate of s.pipelineRates) {
    const step = await pipelineStep(pipeline.ctx, rate, ++index);
    const usage = step.usage.processes.skjold;
    process.stdout.write(
      `step at ${rate} msg/s: achieved ${step.achievedRate}/s, p99 ${step.latencyMs.p99} ms, ` +
        `${step.pass ? 'pass' : `FAIL (${step.failures.join('; ')})`}; RSS peak ${usage?.rssPeakMiB} MiB; ` +
        `GC ${JSON.stringify(step.skjoldRuntime.gc)}; points not yet stored, most ${step.skjoldRuntime.bufferedMax}; ` +
        `CPU µs/msg ${JSON.stringify(step.cpuPerMessageUs)}\n`,
    );
    await report(`after ${rate}`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await report(`after ${rate}, 5 s idle`);
  }
  await skjold.call('stop');
} finally {
  await pipeline.close();
  await load.stop();
}
