/**
 * Several InfluxDB servers behind one Skjold (docs/stores.md), end to end:
 * two real influxd servers, a PostgreSQL registry that outlives a restart,
 * devices publishing over MQTT. Each tenant's readings, queries, exports,
 * erasures and retention runs reach the server the registry places it on, and
 * a tenant moved under QoS 1 load keeps every acknowledged reading exactly
 * once, on the new server only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createPostgresClient } from '../../registry/postgres-client.ts';
import type { TelemetryStore } from '../../store/telemetry-store.ts';
import { runCli } from '../harness/cli.ts';
import { rows } from '../harness/influx-rows.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { type PostgresServer, startPostgres } from '../harness/postgres.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken, operator } from '../harness/tenant-api.ts';
import {
  addDevice,
  addTenant,
  addTenantFleet,
  connectDevice,
  eventually,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';
import { metric } from './metrics.ts';
import { assertAllAckedStored, connectReconnecting, publishSequences } from './seq-publisher.ts';

const HOUR = 3_600_000;
const T0 = Math.floor((Date.now() - 3 * HOUR) / HOUR) * HOUR;
const NORTH = 'nordvarme'; // placed on `second` when it was created
const SOUTH = 'sydvarme'; // on `default`
const READINGS = 6;

let a: InfluxdServer;
let b: InfluxdServer;
let onA: TelemetryStore;
let onB: TelemetryStore;
let postgres: PostgresServer;
let keyDir: string;
let stack: Stack;

before(async () => {
  [a, b, postgres] = await Promise.all([startInfluxd(), startInfluxd(), startPostgres()]);
  onA = adminStore(a);
  onB = adminStore(b);
  keyDir = mkdtempSync(join(tmpdir(), 'skjold-multistore-keys-'));
});
after(async () => {
  await stack?.stop();
  await Promise.all([onA?.close(), onB?.close()]);
  await Promise.all([a?.stop(), b?.stop(), postgres?.stop()]);
  rmSync(keyDir, { recursive: true, force: true });
});

/** A Skjold on both servers: `default` (SKJOLD_INFLUX_URL) and `second`; registry and keys survive a restart. */
async function start(overrides: Parameters<typeof startStack>[0] = {}): Promise<Stack> {
  const second = new URL(b.url);
  second.username = b.adminUser;
  second.password = b.adminPassword;
  return startStack(
    {
      SKJOLD_INFLUX_STORES: `second=${second.href}`,
      SKJOLD_KEY_FILE: join(keyDir, 'keys.json'),
      ...overrides,
    },
    { influx: a, skjold: { sql: await createPostgresClient(postgres.url) } },
  );
}

const databases = async (store: TelemetryStore): Promise<string[]> =>
  (await rows(store, 'any', 'SHOW DATABASES')).map((r) => String(r.name));

const storedOn = async (store: TelemetryStore, d: TestDevice): Promise<number> =>
  (await rows(store, d.tenantId, `SELECT seq FROM ${d.kind} WHERE device = '${d.pseudonym}'`)).length;

async function publishReadings(d: TestDevice, n = READINGS): Promise<void> {
  const client = await connectDevice(stack.mqttUrl, d);
  for (let seq = 0; seq < n; seq++) {
    await publishAcked(client, d.telemetry, JSON.stringify(validReading(d, seq, T0 + seq * 60_000)));
  }
  await client.endAsync();
}

interface StoreList {
  name: string;
  tenants: string[];
  incoming: string[];
}
const storeList = async (s: Stack) => s.api.call<StoreList[]>('GET', '/v1/stores');

test('placement is kept in the registry: a tenant stays on its store across a restart; new tenants go to the configured store', async () => {
  const first = await start({ SKJOLD_INFLUX_NEW_TENANT_STORE: 'second' });
  try {
    await addTenant(first.api, NORTH);
  } finally {
    await first.stop();
  }
  stack = await start({ SKJOLD_STORE_PLACEMENT_REFRESH_SECONDS: 1 });
  await addTenant(stack.api, SOUTH);
  const expected = [
    { name: 'default', tenants: [SOUTH], incoming: [] },
    { name: 'second', tenants: [NORTH], incoming: [] },
  ];
  assert.deepEqual(await storeList(stack), expected);
  const listed = await runCli(stack, 'stores', 'list');
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), expected);
});

test('ingest writes each tenant to its own store', async () => {
  const north = await addDevice(stack.api, identifierSource(NORTH), NORTH, 'heat_meter');
  const south = await addDevice(stack.api, identifierSource(SOUTH), SOUTH, 'heat_meter');
  await publishReadings(north);
  await publishReadings(south);
  await stack.settled();
  assert.equal(await storedOn(onB, north), READINGS);
  assert.equal(await storedOn(onA, south), READINGS);
  assert.ok(!(await databases(onA)).includes(`skjold_${NORTH}`), `${NORTH} has no database on default`);
  assert.ok(!(await databases(onB)).includes(`skjold_${SOUTH}`), `${SOUTH} has no database on second`);
  // What every reader of the store goes through: the router finds each on its own server.
  assert.equal(await storedOn(stack.skjold.store, north), READINGS);
  assert.equal(await storedOn(stack.skjold.store, south), READINGS);
});

test('telemetry queries, fleet statistics, a subject export, an erasure and a retention run reach the tenant’s store', async () => {
  const ids = identifierSource(`${NORTH}-rights`);
  const meter = await addDevice(stack.api, ids, NORTH, 'heat_meter');
  await stack.api.createContract(NORTH, {
    id: 'ended',
    role: 'processor',
    purpose: 'heat billing',
    legalBasis: 'contract',
    startsOn: '2020-01-01',
    endsOn: '2020-12-31',
    jurisdiction: 'DK',
  });
  const due = await addDevice(stack.api, ids, NORTH, 'heat_meter', 'ended');
  await publishReadings(meter);
  await publishReadings(due);
  await stack.settled();
  assert.equal(await storedOn(onB, meter), READINGS);
  assert.equal(await storedOn(onB, due), READINGS);

  const q = new URLSearchParams({
    kind: 'heat_meter',
    field: 'power_kw',
    devices: meter.pseudonym,
    window: '1h',
    from: new Date(T0).toISOString(),
    to: new Date(T0 + HOUR).toISOString(),
  });
  const telemetry = await callAs(stack, operator(stack), 'GET', `/v1/tenants/${NORTH}/telemetry?${q}`);
  assert.equal(telemetry.status, 200, telemetry.body);
  const series = telemetry.json<{ series: Array<{ device: string; points: unknown[] }> }>().series;
  assert.deepEqual(
    series.map((s) => [s.device, s.points.length]),
    [[meter.pseudonym, 1]],
  );

  // The operator's fleet statistics read every tenant, each on its own store.
  const stats = await stack.api.call<{
    tenants: Array<{ tenant: string; kinds: Array<{ kind: string; reporting: number }> }>;
  }>('GET', '/v1/statistics/fleet?days=1');
  const reporting = (tenant: string) =>
    stats.tenants.find((x) => x.tenant === tenant)?.kinds.find((k) => k.kind === 'heat_meter')?.reporting;
  assert.equal(reporting(NORTH), 3, 'the three meters on second');
  assert.equal(reporting(SOUTH), 1, 'the meter on default');

  const { token } = await issueToken(stack, NORTH, ALL_SCOPES);
  const link = await callAs(stack, token, 'PUT', '/tenant/v1/subjects/kunde-7/devices', {
    identifiers: { wmbus: meter.login },
  });
  assert.equal(link.status, 200, link.body);
  const exported = await callAs(stack, token, 'GET', '/tenant/v1/subjects/kunde-7/export?format=json');
  assert.equal(exported.status, 200, exported.body);
  assert.equal(exported.json<{ telemetry: unknown[] }>().telemetry.length, READINGS);

  const erased = await callAs(stack, token, 'POST', '/tenant/v1/subjects/kunde-7/erase', {});
  assert.equal(erased.status, 200, erased.body);
  assert.equal(await storedOn(onB, meter), 0, 'erased on the tenant’s store');

  await stack.api.call('POST', `/v1/retention/run?tenant=${NORTH}`, {});
  assert.equal(await storedOn(onB, due), 0, 'the ended contract’s readings deleted on the tenant’s store');
});

test('a tenant moved under QoS 1 load: every acknowledged reading exactly once on the new store, none left on the old; a second move meanwhile is refused', async (t) => {
  const MOVER = 'flyttevarme';
  const devices = await addTenantFleet(stack.api, MOVER, 4, ['sim_unit', 'heat_meter', 'building_sensor']);
  await stack.settled();
  const writtenBefore = await metric(stack.apiUrl, 'skjold_store_points_written_total');
  const clients = await connectReconnecting(stack.mqttUrl, devices);
  const pub = publishSequences(devices, clients, { ratePerDevice: 25, window: 20, t0: T0 });
  try {
    await eventually('readings stored on the old store', async () => pub.acked() > 200);
    const ackedAtStart = pub.acked();
    const moving = runCli(stack, 'tenants', 'move', '--tenant', MOVER, '--to', 'second');
    await eventually('the move has switched writes', async () =>
      (await storeList(stack)).some((s) => s.name === 'second' && s.incoming.includes(MOVER)),
    );
    const again = await callAs(stack, operator(stack), 'POST', `/v1/tenants/${MOVER}/move`, {
      to: 'default',
    });
    assert.equal(again.status, 409, again.body);
    assert.equal(again.json<{ code: string }>().code, 'SKJOLD_ERR_MOVE_RUNNING');

    const moved = await moving;
    assert.equal(moved.code, 0, moved.stderr);
    const report = JSON.parse(moved.stdout) as { moved: boolean; from: string; to: string; points: number };
    assert.deepEqual([report.moved, report.from, report.to], [true, 'default', 'second']);
    const ackedDuringMove = pub.acked() - ackedAtStart;
    assert.ok(ackedDuringMove > 200, `${ackedDuringMove} readings acknowledged while the tenant moved`);
    await eventually(
      'more readings after the move',
      async () => pub.acked() > ackedAtStart + ackedDuringMove + 100,
    );
    await pub.finish();
    await stack.settled();

    assert.ok(!(await databases(onA)).includes(`skjold_${MOVER}`), 'the old copy is dropped');
    const written = (await metric(stack.apiUrl, 'skjold_store_points_written_total')) - writtenBefore;
    const checked = await assertAllAckedStored(onB, pub.streams, written);
    assert.equal(checked, pub.published());
    const placed = (await storeList(stack)).find((s) => s.name === 'second');
    assert.ok(placed?.tenants.includes(MOVER));
    const audit = await stack.api.call<Array<{ action: string; detail: Record<string, unknown> }>>(
      'GET',
      `/v1/audit?tenant=${MOVER}`,
    );
    const done = audit.find((e) => e.action === 'tenant.move');
    assert.deepEqual([done?.detail.from, done?.detail.to], ['default', 'second']);
    assert.ok(audit.some((e) => e.action === 'tenant.move.start'));
    t.diagnostic(
      `${checked} acknowledged readings (${ackedDuringMove} during the move), each once on the new store; ${report.points} copied`,
    );
  } finally {
    await pub.end();
  }
});
