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
 * Metric names the exposition declares (`# TYPE` lines). prom-client declares
 * every registered metric, even a labelled counter no one has incremented yet.
 */
export function declaredMetrics(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/.exec(line);
    if (!m) continue;
    const [, name, type] = m as unknown as [string, string, string];
    out.add(name);
    // A histogram's or summary's samples carry suffixes of the declared name.
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

/**
 * Sum of the samples of `name` whose labels include all of `labels`: the
 * value of one series when the labels name it fully, the total over the rest
 * otherwise. 0 when the metric is declared but has no such sample (a labelled
 * counter appears only once incremented). Throws when the exposition does not
 * declare `name` at all: a misspelt or removed metric must fail the test that
 * reads it, not read as a silent 0.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  if (!declaredMetrics(text).has(name)) {
    throw new Error(`/metrics has no metric named ${name}`);
  }
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
