import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { spawnServer, waitUntil } from './server-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'skjold-server-process-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Running, not merely a zombie waiting for whoever inherited it to reap it. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

test('waitUntil fails at once with the log when the server dies during startup', async () => {
  const proc = spawnServer('/bin/sh', ['-c', 'echo "config error: boom" >&2; exit 3'], {
    name: 'sh',
    logFile: join(dir, 'dies.log'),
  });
  const started = Date.now();
  await assert.rejects(
    waitUntil(async () => false, { what: 'dying server', timeoutMs: 20_000, process: proc }),
    /dying server: process exited \(code 3.*config error: boom/s,
  );
  assert.ok(Date.now() - started < 5000, 'did not wait for the deadline');
});

test('waitUntil gives up at its deadline', async () => {
  await assert.rejects(
    waitUntil(async () => false, { what: 'never', timeoutMs: 100 }),
    /never: not ready after 100 ms/,
  );
});

test('a server the test forgot to stop is killed when the test process exits', () => {
  const script = `
    import { spawnServer } from ${JSON.stringify(join(import.meta.dirname, 'server-process.ts'))};
    const proc = spawnServer('sleep', ['600'], { name: 'sleep', logFile: ${JSON.stringify(join(dir, 'sleep.log'))} });
    process.stdout.write(String(proc.pid));
  `;
  const pid = Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  );
  assert.ok(pid > 0);
  return waitUntil(async () => !alive(pid), { what: `orphan ${pid} gone`, timeoutMs: 5000 });
});
