/**
 * `node benchmarks/memory-steps.ts [--rates a,b,…] [--duration s]`: where
 * Skjold's resident memory is, step by step. One Skjold as `npm run bench`
 * starts it (the same runtime settings, fleet and warm-up), then phase C's
 * steps at the given rates, in that order, none skipped after a failure. Before
 * the load and after each step (at once, and 5 s later, idle) it prints
 * `process.memoryUsage()`, V8's heap spaces and the process's resident memory
 * by mapping (`/proc/<pid>/smaps`: the node binary, V8's heap pages, other
 * anonymous memory, glibc's main heap), and for each step its peak RSS, GC
 * pauses, CPU per message, and the same figures sampled at the moment of the
 * step's highest RSS (every 250 ms during the step). benchmarks/README.md,
 * "Memory", was measured with it.
 */
import { readFileSync } from 'node:fs';
import { parseSettings } from './args.ts';
import type { FleetSpec } from './bench-fleet.ts';
import { forkChild } from './ipc.ts';
import { startPipeline } from './pipeline-setup.ts';
import { pipelineStep } from './pipeline-step.ts';

/** V8's heap pages are 256 KiB, each mapped on its own at a random address (node builds V8 without pointer compression). */
const V8_PAGE_BYTES = 256 * 1024;

/**
 * Resident MiB by mapping: file mappings by file name, `[v8 pages]`
 * (anonymous mappings of one V8 page: neighbours merged into one mapping are
 * counted as `[anon]`), `[anon]`, `[heap]`, …; those under 4 MiB left out.
 */
function residentByMapping(pid: number): Record<string, number> {
  const kib: Record<string, number> = {};
  let mapping = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[3] || '[anon]';
      const bytes = Number.parseInt(head[2] as string, 16) - Number.parseInt(head[1] as string, 16);
      mapping = name.startsWith('/') ? (name.split('/').pop() ?? name) : name;
      if (mapping === '[anon]' && bytes === V8_PAGE_BYTES) mapping = '[v8 pages]';
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
type Memory = Record<string, number> & { rss: number };
const memoryNow = async () => ({
  memory: await skjold.call<Memory>('memory'),
  mappings: residentByMapping(skjold.pid),
});
const print = (label: string, m: Awaited<ReturnType<typeof memoryNow>>): void => {
  process.stdout.write(
    `${label}: ${JSON.stringify(m.memory)}\n  resident by mapping: ${JSON.stringify(m.mappings)}\n`,
  );
};
const report = async (label: string): Promise<void> => print(label, await memoryNow());

/** Samples Skjold's memory every 250 ms until `done` settles: the sample with the highest RSS. */
async function peakDuring(done: Promise<unknown>): Promise<Awaited<ReturnType<typeof memoryNow>>> {
  let settled = false;
  const stop = (): void => {
    settled = true;
  };
  done.then(stop, stop); // a failed step is reported by whoever awaits it
  let peak = await memoryNow();
  while (!settled) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await memoryNow();
    if (now.memory.rss > peak.memory.rss) peak = now;
  }
  return peak;
}

try {
  await report('idle, before the load');
  let index = 0;
  for (const rate of s.pipelineRates) {
    const running = pipelineStep(pipeline.ctx, rate, ++index);
    const peak = await peakDuring(running);
    const step = await running;
    const usage = step.usage.processes.skjold;
    process.stdout.write(
      `step at ${rate} msg/s: achieved ${step.achievedRate}/s, p99 ${step.latencyMs.p99} ms, ` +
        `${step.pass ? 'pass' : `FAIL (${step.failures.join('; ')})`}; RSS peak ${usage?.rssPeakMiB} MiB; ` +
        `GC ${JSON.stringify(step.skjoldRuntime.gc)}; points not yet stored, most ${step.skjoldRuntime.bufferedMax}; ` +
        `CPU µs/msg ${JSON.stringify(step.cpuPerMessageUs)}\n`,
    );
    print(`at the step's highest sampled RSS`, peak);
    await report(`after ${rate}`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await report(`after ${rate}, 5 s idle`);
  }
  await skjold.call('stop');
} finally {
  await pipeline.close();
  await load.stop();
}
