import { open } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseCsv } from '../api/csv.ts';
import type { RetentionReport } from '../retention/retention.ts';
import type { ApiClient } from './api-client.ts';
import { ApiError } from './api-client.ts';
import type { Command } from './command-kit.ts';
import { createProgress, formatBytes, formatCount, type Progress } from './progress.ts';

/** Progress of `label` on stderr as SKJOLD_PROGRESS says; cleared when `work` fails. */
export async function withProgress<T>(
  cmd: Command,
  label: string,
  work: (progress: Progress) => Promise<T>,
  options: { mode?: Command['config']['SKJOLD_PROGRESS'] } = {},
): Promise<T> {
  const progress = createProgress(label, { mode: options.mode ?? cmd.config.SKJOLD_PROGRESS });
  try {
    return await work(progress);
  } catch (err) {
    progress.stop();
    throw err;
  }
}

const POLL_MS = 1_000;

/**
 * `devices import`: one request, as before (every row is validated before any
 * is registered). While it runs, the tenant's device count is polled so the
 * progress line can say how many are registered so far.
 */
export async function importDevices(api: ApiClient, tenant: string, csv: string, progress: Progress) {
  let total: number | undefined;
  try {
    total = parseCsv(csv).length;
  } catch {
    // The API names the problem; progress just goes without a total.
  }
  const ofTotal = total === undefined ? '' : ` of ${formatCount(total)}`;
  progress.update(total === undefined ? 'registering devices' : `registering ${formatCount(total)} devices`);
  const count = () => api.listDevices(tenant).then((d) => d.length);
  const before = progress.on ? await count().catch(() => undefined) : undefined;
  let polling = false;
  const poll =
    before === undefined
      ? undefined
      : setInterval(() => {
          if (polling) return;
          polling = true;
          count()
            .then((n) => progress.update(`${formatCount(n - before)}${ofTotal} devices registered`))
            .catch(() => undefined)
            .finally(() => {
              polling = false;
            });
        }, POLL_MS).unref();
  try {
    const report = await api.importDevices(tenant, csv);
    progress.done(`${formatCount(report.imported)}${ofTotal} devices imported`);
    return report;
  } finally {
    clearInterval(poll);
  }
}

/**
 * `retention run`: tenant by tenant (the receipts are the same as one run of
 * all tenants: the API runs them one after another too), so the progress line
 * can say which tenant it is at.
 */
export async function runRetention(
  api: ApiClient,
  tenant: string | undefined,
  progress: Progress,
): Promise<RetentionReport[]> {
  const tenants = tenant ? [tenant] : (await api.listTenants()).map((t) => t.id);
  const receipts: RetentionReport[] = [];
  for (const [i, t] of tenants.entries()) {
    progress.update(tenants.length > 1 ? `tenant ${i + 1} of ${tenants.length} (${t})` : t);
    const res = await api.call<{ receipts: RetentionReport[] }>(
      'POST',
      `/v1/retention/run?tenant=${encodeURIComponent(t)}`,
      {},
    );
    receipts.push(...res.receipts);
  }
  progress.done(`${tenants.length} tenant${tenants.length === 1 ? '' : 's'} done`);
  return receipts;
}

/**
 * An export streamed into `--out` (or stdout) as it arrives — it can be large —
 * counting bytes for the progress line.
 */
/**
 * An export holds the subject's raw identifiers and notes (art. 32(1)): its
 * file is the owner's alone, 0600, also when it already existed with a wider
 * mode (the mode given to open() applies only to a file it creates).
 */
async function privateFile(path: string) {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.chmod(0o600);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle.createWriteStream();
}

export async function download(
  url: URL,
  token: string,
  outPath: string | undefined,
  progress: Progress,
): Promise<void> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok || !res.body) {
    const err = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
    throw new ApiError(res.status, err.code ?? 'SKJOLD_ERR_INTERNAL', err.message ?? `HTTP ${res.status}`);
  }
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      progress.update(`${formatBytes(bytes)} written`);
      cb(null, chunk);
    },
  });
  const out = outPath ? await privateFile(outPath) : process.stdout;
  await pipeline(Readable.fromWeb(res.body as WebReadableStream), counter, out);
  progress.done(`${formatBytes(bytes)} written${outPath ? ` to ${outPath}` : ''}`);
}

/** An export to a terminal's stdout is its own progress: a line redrawn over it would garble it. */
export const exportProgressMode = (cmd: Command): Command['config']['SKJOLD_PROGRESS'] =>
  cmd.config.SKJOLD_PROGRESS === 'auto' && typeof cmd.values.out !== 'string' && process.stdout.isTTY
    ? 'never'
    : cmd.config.SKJOLD_PROGRESS;
