import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { findBinary } from '../../lib/process/find-binary.ts';
import { startInfluxd } from './influxd.ts';

async function write(url: string, line: string): Promise<number> {
  const res = await fetch(`${url}/write?db=h&precision=ms`, { method: 'POST', body: line });
  await res.arrayBuffer();
  return res.status;
}

async function count(url: string): Promise<unknown> {
  const res = await fetch(`${url}/query?db=h&q=${encodeURIComponent('SELECT count(v) FROM m')}`);
  const body = (await res.json()) as { results: Array<{ series?: Array<{ values: unknown[][] }> }> };
  return body.results[0]?.series?.[0]?.values[0]?.[1];
}

test('startInfluxd: restart and a crash keep the data on the same port; stop removes it', async () => {
  const server = await startInfluxd({ auth: false });
  try {
    const res = await fetch(`${server.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q: 'CREATE DATABASE h' }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(await write(server.url, 'm v=1 1000'), 204);
    await server.restart();
    assert.equal(await write(server.url, 'm v=2 2000'), 204);
    await server.kill();
    await assert.rejects(fetch(`${server.url}/ping`));
    await server.restart();
    assert.equal(await count(server.url), 2);
  } finally {
    await server.stop();
  }
  assert.equal(existsSync(server.dataDir), false);
  await server.stop(); // idempotent
});

test('startInfluxd with auth: the admin exists and anonymous queries are refused', async () => {
  const server = await startInfluxd();
  try {
    const anonymous = await fetch(`${server.url}/query?q=SHOW%20DATABASES`);
    assert.equal(anonymous.status, 401);
    await anonymous.arrayBuffer();
    const admin = await fetch(`${server.url}/query?q=SHOW%20USERS`, {
      headers: { authorization: `Basic ${btoa(`${server.adminUser}:${server.adminPassword}`)}` },
    });
    assert.equal(admin.status, 200);
    assert.match(await admin.text(), /"admin",true/);
  } finally {
    await server.stop();
  }
});

test('a missing server binary fails loudly with how to install it', () => {
  assert.throws(
    () => findBinary('influxd', { searchPath: '/nonexistent', installHint: 'apt-get install influxdb' }),
    /influxd not found .*apt-get install influxdb/,
  );
});
