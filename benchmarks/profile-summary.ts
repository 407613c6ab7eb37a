/**
 * `node benchmarks/profile-summary.ts <file.cpuprofile> [top]`: where a
 * process spent its CPU (from `npm run bench:pipeline -- --profile`): self time by
 * function and by source directory or package.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node benchmarks/profile-summary.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** node_modules/<pkg>, or the repository directory, or (native)/(gc)/(idle). */
function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] as string;
  if (url.startsWith('node:')) return url;
  const repo =
    /\/(app|broker|ingest|lib|pseudonymizer|registry|store|transport|api|benchmarks|device-sim)\//.exec(url);
  return repo ? `${repo[1]}/` : url;
}

const byFunction = new Map<string, number>();
const byArea = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = (byId.get(id) as ProfileNode).callFrame;
  const where = url ? `${url.replace(/^.*\/(node_modules\/|(?=[^/]+\/[^/]+$))/, '')}:${lineNumber + 1}` : '';
  const key = `${functionName || '(anonymous)'} ${where}`.trim();
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const a = area(url, functionName);
  byArea.set(a, (byArea.get(a) ?? 0) + us);
}

const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
const lines = [`${file}: ${(total / 1e6).toFixed(1)} s sampled`, '', 'self time by area:'];
for (const [a, us] of [...byArea].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`${pct(us)}  ${a}`);
lines.push('', 'self time by function:');
for (const [f, us] of [...byFunction].sort((x, y) => y[1] - x[1]).slice(0, top))
  lines.push(`${pct(us)}  ${f}`);
process.stdout.write(`${lines.join('\n')}\n`);
