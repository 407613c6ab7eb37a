/**
 * Reading Skjold's Prometheus text exposition in tests: fetch `/metrics`, then
 * ask for the value of a metric with some labels.
 */

/** The `/metrics` text of a running Skjold. */
export async function scrape(apiUrl: string): Promise<string> {
  const res = await fetch(new URL('/metrics', apiUrl));
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  return text;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample line of an exposition (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * Sum of the samples of `name` whose labels include all of `labels`: the
 * value of one series when the labels name it fully, the total over the rest
 * otherwise. 0 when there is none (a labelled counter appears only once
 * incremented).
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of parseMetrics(text)) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Fetches `/metrics` and returns `metricValue` of it. */
export async function metric(
  apiUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return metricValue(await scrape(apiUrl), name, labels);
}
