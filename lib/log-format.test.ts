import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { createIdentifierSource } from '../device-sim/identifiers.ts';
import { createRng } from '../device-sim/random.ts';

const run = promisify(execFile);
const ids = createIdentifierSource(createRng('log-format'));
const ICCID = ids.iccid('DK');
const IMSI = ids.imsi('DK');

// A process that logs the way Skjold does: the configured logger, one warning
// carrying identifiers in fields the base logger redacts.
const dir = mkdtempSync(join(tmpdir(), 'skjold-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const child = join(dir, 'log-once.ts');
writeFileSync(
  child,
  `import { loadConfig } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'config.ts')).href)};
import { createConfiguredLogger } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'log.ts')).href)};
const logger = createConfiguredLogger(loadConfig());
logger.warn({ device: 'v1.devicepseudonym', iccid: process.env.ICCID, sim: { imsi: process.env.IMSI } }, 'message rejected');
`,
);

/** The child's stdout, through a pipe or, with `tty`, a pseudo-terminal (util-linux `script`). */
async function logOnce(format: string | undefined, tty: boolean): Promise<string> {
  const env = {
    PATH: process.env.PATH ?? '',
    ICCID,
    IMSI,
    ...(format ? { SKJOLD_LOG_FORMAT: format } : {}),
  };
  const { stdout } = tty
    ? await run('script', ['-qec', `'${process.execPath}' '${child}'`, '/dev/null'], { env })
    : await run(process.execPath, [child], { env });
  // A terminal's line ends and colours are not part of what is asserted.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour sequences
  return stdout.replace(/\x1b\[[0-9;]*m/g, '').replaceAll('\r', '');
}

function assertRedacted(out: string): void {
  assert.ok(!out.includes(ICCID), 'no ICCID in the log');
  assert.ok(!out.includes(IMSI), 'no IMSI in the log');
  assert.match(out, /\[redacted\]/);
}

function assertJson(out: string): void {
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 1, out);
  const entry = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  assert.equal(entry.msg, 'message rejected');
  assert.equal(entry.level, 40);
  assert.equal(entry.iccid, '[redacted]');
  assert.deepEqual(entry.sim, { imsi: '[redacted]' });
}

function assertPretty(out: string): void {
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 1, `one line per event:\n${out}`);
  const line = lines[0] ?? '';
  assert.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: message rejected \{/);
  assert.match(line, /"device":"v1\.devicepseudonym"/);
  assert.match(line, /"iccid":"\[redacted\]"/);
  assert.doesNotMatch(line, /^\{/, 'not JSON');
}

test('on a terminal, logs are one readable line per event, identifiers still redacted', async () => {
  const out = await logOnce(undefined, true);
  assertPretty(out);
  assertRedacted(out);
});

test('through a pipe, logs are JSON lines, identifiers redacted', async () => {
  const out = await logOnce(undefined, false);
  assertJson(out);
  assertRedacted(out);
});

test('SKJOLD_LOG_FORMAT forces either format', async () => {
  const json = await logOnce('json', true);
  assertJson(json);
  assertRedacted(json);
  const pretty = await logOnce('pretty', false);
  assertPretty(pretty);
  assertRedacted(pretty);
  // No colour codes go into a pipe or a file.
  const piped = await run(process.execPath, [child], { env: { PATH: '', SKJOLD_LOG_FORMAT: 'pretty' } });
  assert.ok(!piped.stdout.includes('\u001b['), piped.stdout);
});
