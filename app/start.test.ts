/**
 * `skjold start --simulate`, what `npm start` runs, as its own process: it
 * takes any free ports when asked for port 0 (the demo fleet finds the
 * broker's), prints its banner on stderr, and the demo fleet's misbehaving
 * devices do not flood the log — rejections are counted in /metrics and
 * summarised in a bounded number of lines (ingest/rejection-log.ts).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RUNTIME_ENV, RUNTIME_NODE_OPTIONS } from '../lib/process/runtime-tuning.ts';
import { waitUntil } from '../lib/process/server-process.ts';
import { metricValue, scrape } from '../test/e2e/metrics.ts';
import { type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';

const BIN = join(import.meta.dirname, '../bin/skjold.ts');
const REJECTIONS = 15;

let influx: InfluxdServer;
let dataDir: string;
let child: ChildProcess | undefined;
let stdout = '';
let stderr = '';

before(async () => {
  influx = await startInfluxd();
  dataDir = mkdtempSync(join(tmpdir(), 'skjold-start-'));
});
after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await influx.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Entry {
  msg: string;
  rejected?: number;
}

test('npm start: port 0 works with the demo fleet, and its rejections are summarised, not a line each', async () => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    SKJOLD_DATA_DIR: dataDir,
    SKJOLD_MQTT_HOST: '127.0.0.1',
    SKJOLD_MQTT_PORT: '0',
    SKJOLD_API_PORT: '0',
    SKJOLD_INFLUX_URL: influx.url,
    SKJOLD_INFLUX_USER: influx.adminUser,
    SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
    SKJOLD_RETENTION_SCHEDULE: 'off',
  };
  // 12 devices at 5 msg/s, about 2 % of them malformed or off-schema: a rejection a second or so.
  const proc = spawn(process.execPath, [BIN, 'start', '--simulate', '--devices', '2', '--rate', '5'], {
    env,
  });
  child = proc;
  proc.stdout.on('data', (b: Buffer) => {
    stdout += b.toString('utf8');
  });
  proc.stderr.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  let apiUrl = '';
  await waitUntil(
    async () => {
      apiUrl = /Console +(http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr)?.[1] ?? '';
      return apiUrl !== '';
    },
    { what: `the banner\n${stderr}`, timeoutMs: 60_000, intervalMs: 100 },
  );
  assert.doesNotMatch(apiUrl, /:0$/, 'the banner names the port the API got');
  assert.match(stderr, /MQTT \(devices\) +mqtt:\/\/127\.0\.0\.1:(?!0 )\d+/);
  // The process we started, now running Skjold, has replaced itself with the runtime settings.
  const environ = readFileSync(`/proc/${proc.pid}/environ`, 'utf8').split('\0');
  for (const [k, v] of Object.entries(RUNTIME_ENV)) assert.ok(environ.includes(`${k}=${v}`), `${k} is set`);
  if (RUNTIME_ENV.LD_PRELOAD) {
    const maps = readFileSync(`/proc/${proc.pid}/maps`, 'utf8');
    assert.ok(maps.includes(RUNTIME_ENV.LD_PRELOAD), 'jemalloc is loaded into the process');
  }
  const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0');
  for (const option of RUNTIME_NODE_OPTIONS) assert.ok(cmdline.includes(option), `${option} is given`);

  let rejected = 0;
  let stored = 0;
  await waitUntil(
    async () => {
      const text = await scrape(apiUrl);
      rejected = metricValue(text, 'skjold_ingest_rejected_total');
      stored = metricValue(text, 'skjold_ingest_messages_total', { outcome: 'stored' });
      return rejected >= REJECTIONS && stored > 0;
    },
    { what: `${REJECTIONS} rejections from the demo fleet`, timeoutMs: 120_000, intervalMs: 500 },
  );

  proc.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  const lines = stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Entry);
  const full = lines.filter((l) => l.msg === 'message rejected');
  const summaries = lines.filter((l) => l.rejected !== undefined);
  const minutes = Math.ceil(process.uptime() / 60);
  // Per minute: up to 5 in full (SKJOLD_LOG_REJECTIONS_PER_MINUTE), 3 busiest devices and one line for the rest.
  assert.ok(full.length <= 5 * minutes, `${full.length} rejections logged in full`);
  assert.ok(summaries.length <= 4 * minutes + 4, `${summaries.length} summary lines`);
  assert.ok(
    full.length + summaries.length < rejected,
    `${full.length + summaries.length} lines for ${rejected} rejections`,
  );
  const logged = full.length + summaries.reduce((sum, l) => sum + (l.rejected ?? 0), 0);
  assert.ok(logged >= rejected, `the log accounts for ${logged} of at least ${rejected} rejections`);
});
