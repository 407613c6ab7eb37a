/**
 * Progress of long commands goes to stderr — only on a terminal, or with
 * SKJOLD_PROGRESS=always — and stdout stays exactly the command's output.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { contractIdFor } from '../device-sim/fleet.ts';
import { manualClock } from '../lib/clock.ts';
import { addTenant, identifierSource } from '../test/e2e/devices.ts';
import { type CliResult, runCliWithEnv } from '../test/harness/cli.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { formatReport } from './commands-retention.ts';
import { createProgress } from './progress.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'skjold-progress-'));
const ids = identifierSource('cli-progress');
const DEVICES = 40;
let stack: Stack;

const quiet = (...args: string[]) => runCliWithEnv(stack, {}, ...args);
const always = (...args: string[]) => runCliWithEnv(stack, { SKJOLD_PROGRESS: 'always' }, ...args);

/** A CSV of `n` building sensors of `tenant`, with fresh serials. */
function csvFile(name: string, tenant: string, n: number): string {
  const rows = Array.from(
    { length: n },
    () => `building_sensor,${contractIdFor(tenant, 'building_sensor')},${ids.serial()}`,
  );
  const file = join(dir, name);
  writeFileSync(file, `kind,contract,serial\n${rows.join('\n')}\n`);
  return file;
}

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, r.stderr);
  return r;
}

before(async () => {
  // A fixed clock: exports and receipts carry its time, so two runs print the same.
  stack = await startStack({}, { skjold: { clock: manualClock('2026-12-01T12:00:00.000Z') } });
  await addTenant(stack.api, 'progress-a');
  await addTenant(stack.api, 'progress-b');
});
after(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('devices import: stdout is the report alone; the progress says devices of total on stderr', async () => {
  const plain = ok(
    await quiet('devices', 'import', '--tenant', 'progress-a', csvFile('a.csv', 'progress-a', DEVICES)),
  );
  const shown = ok(
    await always('devices', 'import', '--tenant', 'progress-b', csvFile('b.csv', 'progress-b', DEVICES)),
  );
  assert.equal(plain.stderr, '', 'nothing on stderr without a terminal');
  for (const r of [plain, shown]) {
    const report = JSON.parse(r.stdout) as { imported: number; results: unknown[] };
    assert.equal(report.imported, DEVICES);
    assert.equal(
      r.stdout,
      `${JSON.stringify(report, null, 2)}\n`,
      'stdout is the JSON report and nothing else',
    );
  }
  assert.match(shown.stderr, /^devices import: registering 40 devices, \d+ s\n/);
  assert.match(shown.stderr, /devices import: 40 of 40 devices imported in \d+ s\n$/);
});

test('retention run: the same receipts as one run of every tenant; the progress names the tenant it is at', async () => {
  const runIds = (text: string) => text.replace(/run-[0-9a-f-]{36}/g, 'run-…');
  const plain = ok(await quiet('retention', 'run'));
  const shown = ok(await always('retention', 'run'));
  const direct = await stack.api.call<{ receipts: Parameters<typeof formatReport>[0][] }>(
    'POST',
    '/v1/retention/run',
    {},
  );
  const expected = runIds(direct.receipts.map(formatReport).join('\n'));
  assert.ok(expected.includes('progress-a') && expected.includes('progress-b'));
  assert.equal(runIds(plain.stdout), expected);
  assert.equal(runIds(shown.stdout), expected);
  assert.equal(plain.stderr, '');
  assert.match(shown.stderr, /^retention run: tenant 1 of 2 \(progress-a\), \d+ s\n/);
  assert.match(shown.stderr, /retention run: 2 tenants done in \d+ s\n$/);
});

test('tenants export and subjects export: the same bytes on stdout or in --out, bytes written on stderr', async () => {
  const plain = ok(await quiet('tenants', 'export', '--tenant', 'progress-a', '--format', 'csv'));
  const shown = ok(await always('tenants', 'export', '--tenant', 'progress-a', '--format', 'csv'));
  assert.ok(plain.stdout.length > 0);
  assert.equal(shown.stdout, plain.stdout);
  assert.equal(plain.stderr, '');
  const size = Buffer.byteLength(plain.stdout);
  assert.match(
    shown.stderr,
    new RegExp(`tenants export: ${size < 1024 ? `${size} B` : '[\\d.]+ KiB'} written in \\d+ s\\n$`),
  );

  const out = join(dir, 'tenant.json');
  const toFile = ok(await always('tenants', 'export', '--tenant', 'progress-a', '--out', out));
  assert.equal(toFile.stdout, '');
  assert.match(toFile.stderr, new RegExp(`written to ${out} in \\d+ s\\n$`));
  JSON.parse(readFileSync(out, 'utf8'));

  const device = (await stack.api.listDevices('progress-a'))[0] as { id: string };
  await stack.api.linkSubject('progress-a', 'kunde-1', device.id);
  const issued = JSON.parse(
    ok(await quiet('tokens', 'issue', '--tenant', 'progress-a', '--scopes', 'subjects:export')).stdout,
  ) as { token: string };
  const exportArgs = [
    'subjects',
    'export',
    '--tenant-token',
    issued.token,
    '--ref',
    'kunde-1',
    '--format',
    'csv',
  ];
  const subjectPlain = ok(await quiet(...exportArgs));
  const subjectShown = ok(await always(...exportArgs));
  assert.equal(subjectShown.stdout, subjectPlain.stdout);
  assert.equal(subjectPlain.stderr, '');
  assert.match(subjectShown.stderr, /subjects export: [\d.]+ (B|KiB) written in \d+ s\n$/);
});

test('on a terminal (auto), the progress line is redrawn in place on stderr', async () => {
  const file = csvFile('tty.csv', 'progress-a', 5);
  const bin = join(import.meta.dirname, '../bin/skjold.ts');
  const env = {
    PATH: process.env.PATH ?? '',
    SKJOLD_API_URL: stack.apiUrl,
    SKJOLD_OPERATOR_TOKEN: stack.config.SKJOLD_OPERATOR_TOKEN ?? '',
    SKJOLD_DATA_DIR: stack.config.SKJOLD_DATA_DIR,
  };
  // util-linux `script` gives the command a pseudo-terminal for stdout and stderr.
  const { stdout } = await run(
    'script',
    ['-qec', `'${process.execPath}' '${bin}' devices import --tenant progress-a '${file}'`, '/dev/null'],
    { env },
  );
  // The line is cleared (CR, then ESC [2K) and drawn again; the last one stays.
  assert.ok(stdout.includes('\r\u001b[2Kdevices import: '), JSON.stringify(stdout));
  assert.match(stdout, /devices import: 5 of 5 devices imported in \d+ s/);
  assert.match(stdout, /"imported": 5/);
});

test('an update arriving after the last line (a poll still in flight) writes nothing after it', () => {
  const written: string[] = [];
  let t = 0;
  const progress = createProgress('devices import', {
    mode: 'always',
    out: { isTTY: false, write: (s: string) => written.push(s) > 0 },
    now: () => t,
  });
  progress.update('registering 40 devices');
  t = 2000;
  progress.done('40 of 40 devices imported');
  t = 4000;
  progress.update('40 of 40 devices registered');
  assert.deepEqual(written, [
    'devices import: registering 40 devices, 0 s\n',
    'devices import: 40 of 40 devices imported in 2 s\n',
  ]);
});
