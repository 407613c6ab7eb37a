/**
 * influxd's own account of the HTTP requests it served (`/debug/vars`,
 * httpd section): how long writes took inside influxd, as opposed to the
 * time the client saw, and what the latency probe's queries cost it. Also
 * the storage engine's compactions (tsm1_engine sections, summed over shards):
 * the background work that competes with writes for CPU and disk.
 */
export interface HttpdStats {
  writeReq: number;
  writeReqDurationNs: number;
  pointsWrittenOK: number;
  queryReq: number;
  queryReqDurationNs: number;
  /** Per kind: how many finished and the time they took, since influxd started, and how many are running now. */
  compactions: Record<CompactionKind, { count: number; durationNs: number; running: number }>;
}

/** influxd 1.6's compaction kinds, as its statistics name them (cache = snapshot of the in-memory cache to TSM). */
const COMPACTION_KINDS = {
  cache: 'cacheCompaction',
  level1: 'tsmLevel1Compaction',
  level2: 'tsmLevel2Compaction',
  level3: 'tsmLevel3Compaction',
  optimize: 'tsmOptimizeCompaction',
  full: 'tsmFullCompaction',
} as const;
type CompactionKind = keyof typeof COMPACTION_KINDS;

export interface HttpdDelta {
  writes: number;
  /** Mean time influxd spent per write request, ms. */
  writeMeanMs: number;
  pointsWritten: number;
  queries: number;
  /** Mean time influxd spent per query, ms. */
  queryMeanMs: number;
  /** Compactions that finished, per kind, and the seconds they took. */
  compactions: Record<CompactionKind, { count: number; seconds: number }>;
}

export async function httpdStats(url: string, user: string, password: string): Promise<HttpdStats> {
  const res = await fetch(`${url}/debug/vars`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  const vars = (await res.json()) as Record<string, { name?: string; values?: Record<string, number> }>;
  const httpd = Object.values(vars).find((v) => v?.name === 'httpd')?.values ?? {};
  const engines = Object.values(vars).filter((v) => v?.name === 'tsm1_engine');
  const sum = (key: string): number => engines.reduce((total, e) => total + (e.values?.[key] ?? 0), 0);
  const compactions = Object.fromEntries(
    Object.entries(COMPACTION_KINDS).map(([kind, stat]) => [
      kind,
      { count: sum(`${stat}s`), durationNs: sum(`${stat}Duration`), running: sum(`${stat}sActive`) },
    ]),
  ) as HttpdStats['compactions'];
  return {
    writeReq: httpd.writeReq ?? 0,
    writeReqDurationNs: httpd.writeReqDurationNs ?? 0,
    pointsWrittenOK: httpd.pointsWrittenOK ?? 0,
    queryReq: httpd.queryReq ?? 0,
    queryReqDurationNs: httpd.queryReqDurationNs ?? 0,
    compactions,
  };
}

export function httpdDelta(a: HttpdStats, b: HttpdStats): HttpdDelta {
  const writes = b.writeReq - a.writeReq;
  const queries = b.queryReq - a.queryReq;
  const ms = (ns: number, n: number): number => (n > 0 ? Math.round(ns / n / 1e5) / 10 : 0);
  return {
    writes,
    writeMeanMs: ms(b.writeReqDurationNs - a.writeReqDurationNs, writes),
    pointsWritten: b.pointsWrittenOK - a.pointsWrittenOK,
    queries,
    queryMeanMs: ms(b.queryReqDurationNs - a.queryReqDurationNs, queries),
    compactions: Object.fromEntries(
      (Object.keys(COMPACTION_KINDS) as CompactionKind[]).map((kind) => [
        kind,
        {
          count: b.compactions[kind].count - a.compactions[kind].count,
          seconds: Math.round((b.compactions[kind].durationNs - a.compactions[kind].durationNs) / 1e8) / 10,
        },
      ]),
    ) as HttpdDelta['compactions'],
  };
}
