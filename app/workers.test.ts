import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../lib/config.ts';
import { checkWorkersConfig, workerConfig } from './workers.ts';

const SHARED = {
  DATABASE_URL: 'postgres://skjold@127.0.0.1/skjold',
  SKJOLD_REDIS_URL: 'redis://127.0.0.1:6379',
  SKJOLD_KEYS: '{"tenants":{}}',
};

test('SKJOLD_WORKERS above 1 is refused without PostgreSQL, Redis and shared keys, each named', () => {
  assert.doesNotThrow(() => checkWorkersConfig(loadConfig({})), 'one worker needs none of them');
  assert.throws(() => checkWorkersConfig(loadConfig({ SKJOLD_WORKERS: '2' })), {
    code: 'SKJOLD_ERR_CONFIG',
    message: /DATABASE_URL.*SKJOLD_REDIS_URL.*SKJOLD_KEYS/,
  });
  for (const left of Object.keys(SHARED)) {
    const env = { ...SHARED, SKJOLD_WORKERS: '3' } as Record<string, string>;
    delete env[left];
    assert.throws(() => checkWorkersConfig(loadConfig(env)), {
      code: 'SKJOLD_ERR_CONFIG',
      message: new RegExp(left),
    });
  }
  assert.doesNotThrow(() => checkWorkersConfig(loadConfig({ ...SHARED, SKJOLD_WORKERS: '2' })));
  assert.throws(() => loadConfig({ SKJOLD_WORKERS: '0' }), { code: 'SKJOLD_ERR_CONFIG' });
});

test('each worker has its own instance id, spool directory and audit anchor; only the first runs retention', () => {
  const config = loadConfig(
    { ...SHARED, SKJOLD_WORKERS: '2', SKJOLD_INSTANCE_ID: 'node-a' },
    { SKJOLD_DATA_DIR: '/srv/skjold' },
  );
  const [w1, w2] = [workerConfig(config, 0), workerConfig(config, 1)];
  assert.deepEqual([w1.SKJOLD_INSTANCE_ID, w2.SKJOLD_INSTANCE_ID], ['node-a-w1', 'node-a-w2']);
  assert.deepEqual(
    [w1.SKJOLD_SPOOL_DIR, w2.SKJOLD_SPOOL_DIR],
    ['/srv/skjold/spool/w1', '/srv/skjold/spool/w2'],
  );
  assert.deepEqual(
    [w1.SKJOLD_AUDIT_ANCHOR_FILE, w2.SKJOLD_AUDIT_ANCHOR_FILE],
    ['/srv/skjold/audit-anchor-w1.json', '/srv/skjold/audit-anchor-w2.json'],
  );
  assert.deepEqual([w1.SKJOLD_RETENTION_SCHEDULE, w2.SKJOLD_RETENTION_SCHEDULE], ['daily', 'off']);
  assert.ok(Object.isFrozen(w2));
});

test('skjold start with SKJOLD_WORKERS=2 on the embedded registry stops at once with SKJOLD_ERR_CONFIG', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skjold-workers-config-'));
  try {
    const bin = join(import.meta.dirname, '../bin/skjold.ts');
    const run = promisify(execFile)(process.execPath, [bin, 'start'], {
      env: { ...process.env, SKJOLD_WORKERS: '2', SKJOLD_DATA_DIR: dir, SKJOLD_INFLUXD_MANAGED: 'false' },
      timeout: 30_000,
    });
    await assert.rejects(run, (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr ?? '', /SKJOLD_ERR_CONFIG: .*SKJOLD_WORKERS=2 needs DATABASE_URL/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
