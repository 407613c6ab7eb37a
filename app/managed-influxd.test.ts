/**
 * The influxd `skjold start` runs itself sees none of Skjold's secrets: its
 * environment, read back from /proc/<pid>/environ, holds only what it needs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { influxPing } from '../store/influxd/server.ts';
import { freePort } from '../test/harness/free-port.ts';
import { ensureInfluxd } from './managed-influxd.ts';

/** Pids of this process's children whose command is `name`. */
function childrenNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = /^PPid:\s+(\d+)$/m.exec(status)?.[1];
      const comm = /^Name:\s+(\S+)$/m.exec(status)?.[1];
      if (Number(ppid) === process.pid && comm === name) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

const SECRETS = {
  SKJOLD_KEYS:
    '{"format":1,"tenants":{"acme":{"current":1,"keys":{"1":"S3cretKeyMaterialForTheTest00000000000000="}}}}',
  SKJOLD_OPERATOR_TOKEN: 'operator-token-that-influxd-must-not-see',
  SKJOLD_INFLUX_PASSWORD: 'influx-password-that-influxd-must-not-see',
  DATABASE_URL: 'postgres://skjold:pg-password-influxd-must-not-see@127.0.0.1/skjold',
  // influxd would apply this over its config file and switch auth off.
  INFLUXDB_HTTP_AUTH_ENABLED: 'false',
};

test('the managed influxd runs with PATH and HOME only, none of Skjold’s secrets or INFLUXDB_* overrides', async (t) => {
  const saved = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
  Object.assign(process.env, SECRETS);
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const dir = mkdtempSync(join(tmpdir(), 'skjold-managed-influxd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({}, { SKJOLD_INFLUX_URL: `http://127.0.0.1:${await freePort()}` });
  const before = new Set(childrenNamed('influxd'));
  const influxd = await ensureInfluxd(config, dir, createLogger('silent'));
  t.after(() => influxd.stop());
  assert.equal(influxd.managed, true);
  assert.ok(await influxPing(influxd.config.SKJOLD_INFLUX_URL ?? ''));

  const pids = childrenNamed('influxd').filter((p) => !before.has(p));
  assert.equal(pids.length, 1, 'one influxd child');
  const environ = readFileSync(`/proc/${pids[0]}/environ`, 'utf8').split('\0').filter(Boolean);
  const names = environ.map((e) => e.slice(0, e.indexOf('=')));
  assert.ok(names.includes('PATH'), 'PATH is passed');
  for (const name of names)
    assert.ok(['PATH', 'HOME', 'TZ', 'LANG', 'LC_ALL'].includes(name), `${name} is passed`);
  const text = environ.join('\n');
  for (const [name, value] of Object.entries(SECRETS))
    assert.ok(!text.includes(value), `${name} is not passed`);

  // Auth stayed on: the INFLUXDB_* override did not reach it.
  const res = await fetch(`${influxd.config.SKJOLD_INFLUX_URL}/query?q=SHOW+DATABASES`);
  assert.equal(res.status, 401);
});
