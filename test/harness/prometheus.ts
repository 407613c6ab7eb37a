import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExit } from '../../lib/process/exit-cleanup.ts';
import { findBinary } from '../../lib/process/find-binary.ts';
import { spawnServer, waitUntil } from '../../lib/process/server-process.ts';
import { freePort } from './free-port.ts';

const DEBIAN_HINT =
  'Prometheus is required: install the Debian package `prometheus` (apt-get install prometheus), ' +
  'which scripts/setup.sh does on a fresh machine.';

export const DEPLOY_CONFIG = join(import.meta.dirname, '../../deploy/prometheus.yml');

/**
 * deploy/prometheus.yml with its scrape interval and targets replaced: the
 * same job and metrics path, pointed at a test's Skjold. Throws when the
 * deploy file no longer has the lines it rewrites, so the two cannot drift apart
 * unnoticed.
 */
export function configFromDeploy(
  deployText: string,
  target: string,
  scrapeInterval: string,
  tokenFile: string,
): string {
  const interval = /^( *scrape_interval:) *\S+$/m;
  const targets = /^( *- targets:) *\[[^\]]*\]$/m;
  const credentials = /^( *credentials_file:) *\S+$/m;
  if (!interval.test(deployText) || !targets.test(deployText) || !credentials.test(deployText))
    throw new Error(
      'deploy/prometheus.yml has no `scrape_interval:`, `- targets: [...]` or `credentials_file:` line to rewrite',
    );
  return deployText
    .replace(interval, `$1 ${scrapeInterval}`)
    .replace(targets, `$1 ['${target}']`)
    .replace(credentials, `$1 ${tokenFile}`)
    .replace(/^( *evaluation_interval:) *\S+$/m, `$1 ${scrapeInterval}`);
}

export interface PrometheusServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The config it runs with. */
  config: string;
  /** Result of an instant PromQL query (GET /api/v1/query). */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** The active scrape targets (GET /api/v1/targets). */
  targets(): Promise<Array<{ health: string; lastScrape: string; scrapeUrl: string; lastError: string }>>;
  stop(): Promise<void>;
}

/**
 * Starts Debian's prometheus on 127.0.0.1 at a free port with a temp TSDB,
 * scraping `target` (host:port) with the deploy config's job.
 */
export async function startPrometheus(options: {
  target: string;
  /** The scrape token the deploy config's credentials_file holds (SKJOLD_METRICS_TOKEN). */
  metricsToken: string;
  scrapeInterval?: string;
}): Promise<PrometheusServer> {
  const binary = findBinary('prometheus', { extraDirs: ['/usr/bin'], installHint: DEBIAN_HINT });
  const dir = mkdtempSync(join(tmpdir(), 'skjold-prometheus-'));
  const unregisterDir = onExit(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'skjold-metrics-token');
  writeFileSync(tokenFile, options.metricsToken, { mode: 0o600 });
  const config = configFromDeploy(
    readFileSync(DEPLOY_CONFIG, 'utf8'),
    options.target,
    options.scrapeInterval ?? '1s',
    tokenFile,
  );
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnServer(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { name: 'prometheus', logFile: join(dir, 'prometheus.log'), cwd: dir },
  );
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(new URL(path, url));
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  try {
    await waitUntil(async () => (await fetch(`${url}/-/ready`)).status === 200, {
      what: 'prometheus ready',
      timeoutMs: 30_000,
      process: proc,
    });
  } catch (err) {
    await proc.stop('SIGKILL', 1_000);
    rmSync(dir, { recursive: true, force: true });
    unregisterDir();
    throw err;
  }
  return {
    url,
    config,
    async query(promql) {
      const data = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
        `/api/v1/query?query=${encodeURIComponent(promql)}`,
      );
      return data.result;
    },
    async targets() {
      return (
        await api<{
          activeTargets: Array<{ health: string; lastScrape: string; scrapeUrl: string; lastError: string }>;
        }>('/api/v1/targets')
      ).activeTargets;
    },
    async stop() {
      await proc.stop('SIGTERM', 10_000);
      rmSync(dir, { recursive: true, force: true });
      unregisterDir();
    },
  };
}
