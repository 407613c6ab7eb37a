/**
 * influxd's own account of the HTTP requests it served (`/debug/vars`,
 * httpd section): how long writes took inside influxd, as opposed to the
 * time the client saw, and what the latency probe's queries cost it.
 */
export interface HttpdStats {
  writeReq: number;
  writeReqDurationNs: number;
  pointsWrittenOK: number;
  queryReq: number;
  queryReqDurationNs: number;
}

export interface HttpdDelta {
  writes: number;
  /** Mean time influxd spent per write request, ms. */
  writeMeanMs: number;
  pointsWritten: number;
  queries: number;
  /** Mean time influxd spent per query, ms. */
  queryMeanMs: number;
}

export async function httpdStats(url: string, user: string, password: string): Promise<HttpdStats> {
  const res = await fetch(`${url}/debug/vars`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  const vars = (await res.json()) as Record<string, { name?: string; values?: Record<string, number> }>;
  const httpd = Object.values(vars).find((v) => v?.name === 'httpd')?.values ?? {};
  return {
    writeReq: httpd.writeReq ?? 0,
    writeReqDurationNs: httpd.writeReqDurationNs ?? 0,
    pointsWrittenOK: httpd.pointsWrittenOK ?? 0,
    queryReq: httpd.queryReq ?? 0,
    queryReqDurationNs: httpd.queryReqDurationNs ?? 0,
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
  };
}
