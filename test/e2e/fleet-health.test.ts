/**
 * Fleet health over real HTTP against a whole Skjold (real influxd, PGlite,
 * aedes): devices publish over MQTT, the console's endpoint reports rates,
 * rejections by device pseudonym, connected and silent devices. The clock is
 * injected: silence is reached by moving it, not by waiting.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { createFleetHealth } from '../../fleet/health.ts';
import type { FleetHealthReport } from '../../fleet/report.ts';
import { manualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { callAs, issueToken } from '../harness/tenant-api.ts';
import {
  addTenantFleet,
  connectAs,
  connectDevice,
  endAll,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';
import { metric } from './metrics.ts';

const A = 'fjernvarme-nord';
const B = 'andelsbolig-syd';
const PER_DEVICE = 5;
const clock = manualClock(new Date());
const advanceS = (s: number) => clock.set(new Date(clock().getTime() + s * 1000));

let stack: Stack;
let fleetA: TestDevice[];
let fleetB: TestDevice[];
const clients: MqttClient[] = [];
const byKind = (fleet: TestDevice[], kind: string) => fleet.find((d) => d.kind === kind) as TestDevice;

async function get(path: string, token = stack.config.SKJOLD_OPERATOR_TOKEN ?? '') {
  const res = await fetch(new URL(path, stack.apiUrl), { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  return { status: res.status, body, json: () => JSON.parse(body) as FleetHealthReport };
}

async function health(query = ''): Promise<FleetHealthReport> {
  const res = await get(`/v1/fleet/health${query}`);
  assert.equal(res.status, 200, res.body);
  return res.json();
}

const kindRow = (h: FleetHealthReport, tenant: string, kind: string) =>
  h.kinds.find((k) => k.tenant === tenant && k.kind === kind);

before(async () => {
  stack = await startStack({}, { skjold: { clock } });
  fleetA = await addTenantFleet(stack.api, A, 3); // one device of each kind
  fleetB = await addTenantFleet(stack.api, B, 1, ['building_sensor']);
});
after(async () => {
  await endAll(clients);
  await stack.stop();
});

test('accepted messages become the rate history, and connected devices count per tenant and kind', async () => {
  for (const d of [...fleetA, ...fleetB]) {
    const client = await connectDevice(stack.mqttUrl, d);
    clients.push(client);
    for (let seq = 0; seq < PER_DEVICE; seq++)
      await publishAcked(client, d.telemetry, JSON.stringify(validReading(d, seq)));
  }
  // Nothing is closed into the history until the clock has moved a step.
  assert.equal(await stack.skjold.fleet.tick(), false);
  advanceS(10);
  assert.equal(await stack.skjold.fleet.tick(), true);
  await stack.settled(); // the spool has written them, so the store's write latency is known

  const all = await health();
  assert.equal(all.rates.stepS, 10);
  assert.deepEqual(
    all.rates.points.map(([, rate]) => rate),
    [(4 * PER_DEVICE) / 10],
  );
  for (const kind of ['heat_meter', 'sim_unit', 'building_sensor']) {
    assert.deepEqual(kindRow(all, A, kind), { tenant: A, kind, devices: 1, connected: 1, silent: 0 });
  }
  assert.deepEqual(kindRow(all, B, 'building_sensor'), {
    tenant: B,
    kind: 'building_sensor',
    devices: 1,
    connected: 1,
    silent: 0,
  });
  assert.equal(all.store.up, true);
  assert.ok((all.store.writeLatencyMs.p50 ?? 0) > 0, 'the writes just made have a latency');
  assert.ok(all.spool !== null && all.spool.backlogPoints >= 0, 'the spool (default transport) reports');

  // A SIM unit's MNC and cell id are dropped from every message: counted as /metrics counts them.
  const location = await metric(stack.apiUrl, 'skjold_ingest_fields_dropped_total', { reason: 'location' });
  assert.ok(location >= PER_DEVICE, 'every SIM unit message loses its location fields');
  assert.deepEqual(all.dropped.fields, [{ reason: 'location', count: location }]);

  const onlyB = await health(`?tenant=${B}`);
  assert.deepEqual(onlyB.dropped.fields, [], 'building sensors sent nothing that is dropped');
  assert.deepEqual(
    onlyB.kinds.map((k) => k.tenant),
    [B],
  );
  assert.deepEqual(
    onlyB.rates.points.map(([, rate]) => rate),
    [PER_DEVICE / 10],
  );
});

test('a device sending bad messages shows in the rejections by its pseudonym, a refused login under no device', async () => {
  const heat = byKind(fleetA, 'heat_meter');
  const client = clients[fleetA.indexOf(heat)] as MqttClient;
  await publishAcked(client, heat.telemetry, 'not json');
  await publishAcked(client, heat.telemetry, 'not json either');
  await publishAcked(client, heat.telemetry, '[1, 2]');
  await assert.rejects(connectAs(stack.mqttUrl, heat.login, 'wrong-secret-0123456789'));

  // Rejections count at once, before the step closes.
  const now = await health();
  assert.deepEqual(now.rejections.byReason, [
    { reason: 'json', count: 2 },
    { reason: 'connect_bad_secret', count: 1 },
    { reason: 'not_object', count: 1 },
  ]);
  assert.deepEqual(now.rejections.devices, [
    { tenant: A, device: heat.pseudonym, reason: 'json', count: 2 },
    { tenant: null, device: null, reason: 'connect_bad_secret', count: 1 },
    { tenant: A, device: heat.pseudonym, reason: 'not_object', count: 1 },
  ]);
  const raw = JSON.stringify(now);
  for (const d of [...fleetA, ...fleetB]) assert.ok(!raw.includes(d.login), 'no login identifier is shown');

  const onlyB = await health(`?tenant=${B}`);
  assert.deepEqual(onlyB.rejections, {
    byReason: [],
    devices: [],
    points: [[onlyB.rates.points[0]?.[0], 0]],
  });

  advanceS(10);
  assert.equal(await stack.skjold.fleet.tick(), true);
  const later = await health(`?tenant=${A}`);
  assert.deepEqual(
    later.rejections.points.map(([, rate]) => rate),
    [0, 3 / 10],
  );
});

test('a device that stops sending is listed as silent once the clock passes three of its intervals', async () => {
  const sensorA = byKind(fleetA, 'building_sensor');
  const sensorB = byKind(fleetB, 'building_sensor');
  const lastMessageAt = clock().getTime() - 20_000; // the readings of the first test
  await endAll(clients.splice(0));

  advanceS(3 * 60 - 20); // exactly three intervals of a building sensor: not yet silent
  let h = await health();
  assert.deepEqual(h.silent, []);
  assert.equal(kindRow(h, A, 'building_sensor')?.connected, 0, 'disconnected devices are not connected');

  advanceS(1);
  h = await health();
  assert.deepEqual(
    h.silent.map((s) => ({ ...s })),
    [sensorB, sensorA].map((d) => ({
      tenant: d.tenantId,
      device: d.pseudonym,
      kind: 'building_sensor',
      lastSeen: new Date(lastMessageAt).toISOString(),
      expectedIntervalS: 60,
    })),
  );
  assert.equal(kindRow(h, A, 'building_sensor')?.silent, 1);
  assert.equal(kindRow(h, A, 'heat_meter')?.silent, 0, 'a heat meter reports every 15 minutes');

  // The heat meter's last message was a rejected one, ten seconds later: it counts as a sign of life.
  advanceS(3 * 900 - 3 * 60 + 1);
  h = await health(`?tenant=${A}`);
  assert.deepEqual(h.silent.map((s) => s.kind).sort(), ['building_sensor', 'sim_unit']);
  advanceS(10);
  h = await health(`?tenant=${A}`);
  assert.deepEqual(h.silent.map((s) => s.kind).sort(), ['building_sensor', 'heat_meter', 'sim_unit']);
});

test('last-seen times reach the registry, so a fresh instance knows who is silent', async () => {
  await stack.skjold.fleet.tick();
  const sensorA = byKind(fleetA, 'building_sensor');
  const [row] = await stack.skjold.registry.sql.query<{ at: Date }>(
    'SELECT last_seen_at AS at FROM devices WHERE id = $1',
    [sensorA.id],
  );
  const seen = (await health()).silent.find((s) => s.device === sensorA.pseudonym)?.lastSeen;
  assert.equal(row?.at.toISOString(), seen);

  const fresh = createFleetHealth({
    sql: stack.skjold.registry.sql,
    clock,
    metrics: stack.skjold.metrics,
    store: stack.skjold.store,
    logger: createLogger('silent'),
    spool: false,
  });
  const report = await fresh.report({ tenantId: A, operator: true });
  assert.equal(report.silent.find((s) => s.device === sensorA.pseudonym)?.lastSeen, seen);
  assert.deepEqual(report.rates.points, [], 'the history itself is per instance');
});

test('a device’s last-seen time is written to the registry at most once a minute', async () => {
  const sensorB = byKind(fleetB, 'building_sensor');
  const stored = async () =>
    (
      await stack.skjold.registry.sql.query<{ at: Date }>(
        'SELECT last_seen_at AS at FROM devices WHERE id = $1',
        [sensorB.id],
      )
    )[0]?.at.getTime();
  const client = await connectDevice(stack.mqttUrl, sensorB);
  clients.push(client);
  const first = clock().getTime();
  await publishAcked(client, sensorB.telemetry, JSON.stringify(validReading(sensorB, 100)));
  advanceS(10);
  await stack.skjold.fleet.tick();
  assert.equal(await stored(), first);

  advanceS(20);
  await publishAcked(client, sensorB.telemetry, JSON.stringify(validReading(sensorB, 101)));
  const second = clock().getTime();
  advanceS(10);
  assert.equal(await stack.skjold.fleet.tick(), true);
  assert.equal(await stored(), first, 'not again within the minute');
  assert.equal(
    (await health(`?tenant=${B}`)).silent.length,
    0,
    'the instance itself knows the newer time at once',
  );

  advanceS(30);
  assert.equal(await stack.skjold.fleet.tick(), true);
  assert.equal(await stored(), second);
  await endAll(clients.splice(0));
});

test('a restricted subject’s device is counted but not listed (art. 18)', async () => {
  const sensorA = byKind(fleetA, 'building_sensor');
  const { token } = await issueToken(stack, A, ['subjects:write', 'requests']);
  const link = await callAs(stack, token, 'PUT', '/tenant/v1/subjects/flat-7/devices', {
    deviceId: sensorA.id,
  });
  assert.equal(link.status, 200, link.body);
  const restrict = await callAs(stack, token, 'POST', '/tenant/v1/subjects/flat-7/restrict', {});
  assert.equal(restrict.status, 200, restrict.body);

  const h = await health(`?tenant=${A}`);
  assert.ok(!h.silent.some((s) => s.device === sensorA.pseudonym), 'not listed');
  assert.equal(kindRow(h, A, 'building_sensor')?.silent, 1, 'still counted');
});

test('a tenant sees its own devices only, and of the store no more than up and latency', async () => {
  advanceS(3 * 60 + 1); // B's sensor, last heard from in the test before, is silent again
  const { token } = await issueToken(stack, B, ['telemetry:read']);
  const res = await get('/tenant/v1/fleet/health', token);
  assert.equal(res.status, 200, res.body);
  const own = res.json();
  assert.deepEqual([...new Set(own.kinds.map((k) => k.tenant))], [B]);
  assert.deepEqual(
    own.silent.map((s) => s.tenant),
    [B],
  );
  assert.ok(
    own.rejections.devices.every((d) => d.tenant === B),
    'no other tenant’s rejections, no refused logins',
  );
  assert.ok(
    !own.rejections.byReason.some((r) => r.reason.startsWith('connect_')),
    'refused logins belong to no tenant',
  );
  assert.equal(own.spool, null);
  assert.equal(typeof own.store.up, 'boolean');
  const others = JSON.stringify(own);
  for (const d of fleetA) assert.ok(!others.includes(d.pseudonym), 'no device of tenant A');

  // The tenant is the credential's: a query naming another is refused, not obeyed.
  assert.equal((await get(`/tenant/v1/fleet/health?tenant=${A}`, token)).status, 400);
  const { token: noScope } = await issueToken(stack, B, ['requests']);
  assert.equal((await get('/tenant/v1/fleet/health', noScope)).status, 403);
  assert.equal((await get('/tenant/v1/fleet/health', 'no-such-token')).status, 401);
  assert.equal((await get('/v1/fleet/health', token)).status, 401, 'a tenant token is no operator token');
});

test('the query is validated: an unknown tenant is 404, a malformed one or an unknown parameter 400', async () => {
  assert.equal((await get('/v1/fleet/health?tenant=no-such-tenant')).status, 404);
  const bad = await get('/v1/fleet/health?tenant=Not%20A%20Tenant');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).code, 'SKJOLD_ERR_VALIDATION');
  assert.equal((await get('/v1/fleet/health?tennant=x')).status, 400);
  assert.equal((await get('/v1/fleet/health', 'not-the-operator-token')).status, 401);
});

test('the history holds the last hour: older steps fall out of it', async () => {
  const earlier = (await health()).rates.points;
  assert.ok(earlier.length >= 3, 'steps closed by the tests before');
  advanceS(3600);
  assert.equal(await stack.skjold.fleet.tick(), true);
  const later = await health();
  assert.deepEqual(
    later.rates.points.map(([at]) => at),
    [clock().getTime()],
  );
  assert.deepEqual(later.rejections.byReason, [], 'the rejections of an hour ago are gone too');
});
