import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');

// A user's shell: the system's PATH without any node_modules/.bin (npm puts
// the project's there while it runs this test), so `npx` below is the system's
// npm on the system's Node, whatever version that is.
const systemPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir !== '' && !dir.includes('node_modules'))
  .join(delimiter);
const npx = systemPath.split(delimiter).find((dir) => existsSync(join(dir, 'npx')));
const cache = mkdtempSync(join(tmpdir(), 'skjold-npx-cache-'));
after(() => rmSync(cache, { recursive: true, force: true }));

async function systemNpx(cwd: string, ...args: string[]) {
  assert.ok(npx, 'npm (npx) is on the PATH, as the README requires');
  // Nothing of npm's own environment: only what a shell would have, and a
  // fresh npm cache, so npx does what it does on a user's first run.
  const env = { PATH: systemPath, HOME: process.env.HOME ?? tmpdir(), npm_config_cache: cache };
  return run(join(npx, 'npx'), args, { cwd, env });
}

test('`npx skjold` prints only its own output, with the system npm on the system Node', async () => {
  const { stdout: systemNode } = await run('node', ['--version'], { env: { PATH: systemPath } });
  for (const cwd of [ROOT, join(ROOT, 'docs')]) {
    const help = await systemNpx(cwd, 'skjold', 'help');
    assert.equal(help.stderr, '', `no npm warnings (system Node ${systemNode.trim()}, in ${cwd})`);
    assert.match(help.stdout, /^Usage: skjold <command>/);
  }
});

test('`npx skjold` runs on the Node 24 the packages bring', async () => {
  const { stdout, stderr } = await systemNpx(ROOT, 'skjold', 'version');
  assert.equal(stderr, '');
  const major = Number(/on Node\.js v(\d+)\./.exec(stdout)?.[1]);
  assert.ok(major >= 24, stdout);
});
