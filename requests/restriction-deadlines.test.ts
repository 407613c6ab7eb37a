/**
 * Restriction (art. 18), objection (art. 21), rectification (art. 16) and
 * request deadlines (art. 12(3)) through the API, against a real InfluxDB, with
 * the registry on PGlite and on PostgreSQL, and a clock the test moves.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { manualClock } from '../lib/clock.ts';
import { LOGIN_TYPE } from '../registry/enrolment.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from '../test/e2e/devices.ts';
import { forEachRegistry } from '../test/harness/registries.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken, operator } from '../test/harness/tenant-api.ts';

forEachRegistry((registry) => {
  const A = 'bygning';
  const POINTS = 5;
  const clock = manualClock(new Date());
  let stack: Stack;
  let token: string;
  const sensors: Record<'restricted' | 'plain' | 'objecting', TestDevice> = {} as never;

  interface Stats {
    excludedDevices: number;
    tenants: Array<{
      tenant: string;
      kinds: Array<{ kind: string; devices: number; reporting: number; points: number | null }>;
    }>;
  }
  interface Req {
    id: string;
    status: string;
    receivedAt: string;
    dueAt: string;
    overdue: boolean;
    extendedMonths: number;
    extensionReason: string | null;
  }

  const op = (method: string, path: string, body?: unknown) =>
    callAs(stack, operator(stack), method, path, body);
  const tenant = (method: string, path: string, body?: unknown) => callAs(stack, token, method, path, body);

  async function buildingStats() {
    const res = await op('GET', '/v1/statistics/fleet?days=30');
    assert.equal(res.status, 200, res.body);
    const kinds = res.json<Stats>().tenants.find((t) => t.tenant === A)?.kinds ?? [];
    const k = kinds.find((x) => x.kind === 'building_sensor');
    // Three sensors are fewer than five: the statistics count them but show no points or mean.
    assert.equal(k?.points, null);
    return { devices: k?.devices, reporting: k?.reporting };
  }

  /** Device pseudonyms in an export's telemetry. */
  async function exportedDevices(res: { body: string; status: number }): Promise<Map<string, number>> {
    assert.equal(res.status, 200, res.body);
    const doc = JSON.parse(res.body) as { telemetry: Array<{ tags: { device: string } }> };
    const out = new Map<string, number>();
    for (const r of doc.telemetry) out.set(r.tags.device, (out.get(r.tags.device) ?? 0) + 1);
    return out;
  }
  const pseudonymOf = (d: TestDevice) =>
    stack.skjold.pseudonymizer.pseudonym(d.tenantId, LOGIN_TYPE[d.kind], d.login, 1);

  before(async () => {
    stack = await startStack({}, { skjold: { clock }, registry });
    await addTenant(stack.api, A);
    const ids = identifierSource('restriction');
    for (const name of ['restricted', 'plain', 'objecting'] as const) {
      const d = await addDevice(stack.api, ids, A, 'building_sensor');
      sensors[name] = d;
      const client = await connectDevice(stack.mqttUrl, d);
      for (let seq = 0; seq < POINTS; seq++) {
        await publishAcked(
          client,
          d.telemetry,
          JSON.stringify(validReading(d, seq, Date.now() - 3_600_000 + seq * 1000)),
        );
      }
      await client.endAsync();
    }
    await stack.settled();
    token = (await issueToken(stack, A, ALL_SCOPES)).token;
    for (const name of ['restricted', 'plain', 'objecting'] as const) {
      const res = await tenant('PUT', `/tenant/v1/subjects/${name}/devices`, {
        identifiers: { serial: sensors[name].login },
      });
      assert.equal(res.status, 200, res.body);
    }
  });
  after(() => stack.stop());

  test('before any request every subject counts everywhere', async () => {
    assert.deepEqual(await buildingStats(), { devices: 3, reporting: 3 });
    const html = (await callAs(stack, operator(stack), 'GET', '/status')).body;
    assert.match(html, /building_sensor: 3/);
  });

  test('a restricted subject leaves the dashboard, the statistics and the operator’s export, but not the tenant’s own export', async () => {
    const res = await tenant('POST', '/tenant/v1/subjects/restricted/restrict', {});
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json<{ request: Req }>().request.status, 'completed');

    assert.deepEqual(await buildingStats(), { devices: 2, reporting: 2 });
    assert.match((await callAs(stack, operator(stack), 'GET', '/status')).body, /building_sensor: 2/);

    const hidden = pseudonymOf(sensors.restricted);
    const opExport = await op('GET', `/v1/tenants/${A}/export`);
    const opDevices = await exportedDevices(opExport);
    assert.ok(!opDevices.has(hidden), 'the operator’s export leaves the restricted subject out');
    assert.equal(
      [...opDevices.values()].reduce((a, b) => a + b, 0),
      2 * POINTS,
    );
    assert.ok(!opExport.body.includes(sensors.plain.login), 'the operator’s export has no raw identifier');
    const opCsv = await op('GET', `/v1/tenants/${A}/export?format=csv`);
    assert.ok(!opCsv.body.includes(hidden));
    assert.equal(opCsv.body.trim().split('\r\n').length, 1 + 2 * POINTS);

    const own = await exportedDevices(await tenant('GET', '/tenant/v1/export'));
    assert.equal(own.get(hidden), POINTS, 'the tenant still gets everything of its own');
    const subject = await exportedDevices(await tenant('GET', '/tenant/v1/subjects/restricted/export'));
    assert.equal(subject.get(hidden), POINTS);
    const ownBody = (await tenant('GET', '/tenant/v1/export')).body;
    assert.ok(ownBody.includes(sensors.restricted.login), 'with the tenant’s own identifiers');

    // The data itself stays stored.
    const stored = await stack.skjold.store.query(
      A,
      `SELECT count(seq) FROM building_sensor WHERE device = '${hidden}'`,
    );
    assert.equal(stored[0]?.series?.[0]?.values[0]?.[1], POINTS);
  });

  test('an objection to the operator’s statistics removes the subject from them, and only from them', async () => {
    const res = await tenant('POST', '/tenant/v1/subjects/objecting/object', {
      purpose: 'operator_statistics',
    });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(await buildingStats(), { devices: 1, reporting: 1 });
    const opDevices = await exportedDevices(await op('GET', `/v1/tenants/${A}/export`));
    assert.equal(
      opDevices.get(pseudonymOf(sensors.objecting)),
      POINTS,
      'an objection to statistics is not a restriction',
    );
    const info = await tenant('GET', '/tenant/v1/subjects/objecting');
    assert.equal(
      info.json<{ objections: Array<{ purpose: string }> }>().objections[0]?.purpose,
      'operator_statistics',
    );
  });

  test('lifting the restriction brings the subject back', async () => {
    const res = await tenant('POST', '/tenant/v1/subjects/restricted/restrict/lift', {});
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(await buildingStats(), { devices: 2, reporting: 2 });
    assert.match((await callAs(stack, operator(stack), 'GET', '/status')).body, /building_sensor: 3/);
  });

  test('rectification replaces a wrong link with the right one', async () => {
    // Another subject's sensor cannot be linked at all: one occupant at a time.
    const taken = await tenant('PUT', '/tenant/v1/subjects/plain/devices', {
      deviceId: sensors.objecting.id,
    });
    assert.equal(taken.status, 409);
    const spare = await addDevice(stack.api, identifierSource('restriction-spare'), A, 'building_sensor');
    const wrong = await tenant('PUT', '/tenant/v1/subjects/plain/devices', { deviceId: spare.id });
    assert.equal(wrong.status, 200);
    const res = await tenant('POST', '/tenant/v1/subjects/plain/rectify', {
      remove: [spare.id],
      add: [{ identifiers: { serial: sensors.plain.login } }],
    });
    assert.equal(res.status, 200, res.body);
    const info = await tenant('GET', '/tenant/v1/subjects/plain');
    assert.deepEqual(
      info.json<{ devices: Array<{ id: string }> }>().devices.map((d) => d.id),
      [sensors.plain.id],
    );
    const bad = await tenant('POST', '/tenant/v1/subjects/plain/rectify', { remove: ['not-linked'] });
    assert.equal(bad.status, 404);
  });

  test('a request is due one month after receipt; an extension adds up to two months, with a reason', async () => {
    clock.set('2027-01-31T09:00:00Z');
    const filed = await tenant('POST', '/tenant/v1/requests', { subjectRef: 'plain', kind: 'access' });
    assert.equal(filed.status, 201, filed.body);
    const r = filed.json<Req>();
    assert.equal(r.receivedAt, '2027-01-31T09:00:00.000Z');
    assert.equal(r.dueAt, '2027-02-28T09:00:00.000Z');
    assert.equal(r.status, 'open');

    const noReason = await tenant('POST', `/tenant/v1/requests/${r.id}/extend`, { months: 1 });
    assert.equal(noReason.status, 400);
    const tooLong = await tenant('POST', `/tenant/v1/requests/${r.id}/extend`, {
      months: 3,
      reason: 'many devices',
    });
    assert.equal(tooLong.status, 400);
    const one = await tenant('POST', `/tenant/v1/requests/${r.id}/extend`, {
      months: 1,
      reason: 'complex request',
    });
    assert.equal(one.status, 200, one.body);
    assert.equal(one.json<Req>().dueAt, '2027-03-31T09:00:00.000Z');
    const two = await tenant('POST', `/tenant/v1/requests/${r.id}/extend`, {
      months: 1,
      reason: 'archive to search',
    });
    assert.equal(two.json<Req>().dueAt, '2027-04-30T09:00:00.000Z');
    assert.equal(two.json<Req>().status, 'extended');
    assert.match(two.json<Req>().extensionReason ?? '', /complex request\narchive to search/);
    const three = await tenant('POST', `/tenant/v1/requests/${r.id}/extend`, { months: 1, reason: 'more' });
    assert.equal(three.status, 409);
    assert.equal(three.json().code, 'SKJOLD_ERR_REQUEST_STATE');
    const answered = await tenant('GET', `/tenant/v1/subjects/plain/export?request=${r.id}`);
    assert.equal(answered.status, 200);
    assert.equal((await tenant('GET', `/tenant/v1/requests/${r.id}`)).json<Req>().status, 'completed');
  });

  test('overdue requests are listed for the tenant and the operator and counted, until answered', async () => {
    clock.set('2027-06-01T00:00:00Z');
    const filed = (
      await tenant('POST', '/tenant/v1/requests', { subjectRef: 'objecting', kind: 'access' })
    ).json<Req>();
    assert.equal((await tenant('GET', '/tenant/v1/requests?overdue=true')).json<Req[]>().length, 0);

    clock.advanceDays(31);
    const overdue = (await tenant('GET', '/tenant/v1/requests?overdue=true')).json<Req[]>();
    assert.deepEqual(
      overdue.map((x) => x.id),
      [filed.id],
    );
    assert.equal(overdue[0]?.overdue, true);
    const opList = (await op('GET', '/v1/requests?overdue=true')).json<Req[]>();
    assert.ok(opList.some((x) => x.id === filed.id));
    const metrics = (await callAs(stack, null, 'GET', '/metrics')).body;
    assert.match(metrics, new RegExp(`skjold_subject_requests_overdue\\{tenant="${A}"\\} 1\\b`));
    // An overdue request cannot be extended after the fact.
    assert.equal(
      (await tenant('POST', `/tenant/v1/requests/${filed.id}/extend`, { months: 1, reason: 'late' })).status,
      409,
    );

    // Answering it (the export names the request) takes it off the list.
    const answered = await tenant('GET', `/tenant/v1/subjects/objecting/export?request=${filed.id}`);
    assert.equal(answered.status, 200);
    const after = (await tenant('GET', `/tenant/v1/requests/${filed.id}`)).json<Req>();
    assert.equal(after.status, 'completed');
    assert.equal((await tenant('GET', '/tenant/v1/requests?overdue=true')).json<Req[]>().length, 0);
    assert.doesNotMatch(
      (await callAs(stack, null, 'GET', '/metrics')).body,
      /skjold_subject_requests_overdue\{tenant="bygning"\} [1-9]/,
    );
    // A request of another kind cannot be answered by an export.
    const erasure = (
      await tenant('POST', '/tenant/v1/requests', { subjectRef: 'objecting', kind: 'erasure' })
    ).json<Req>();
    assert.equal(
      (await tenant('GET', `/tenant/v1/subjects/objecting/export?request=${erasure.id}`)).status,
      409,
    );
  });

  test('every tenant action is in the audit log under the token, with the subject pseudonymised', async () => {
    const entries = await stack.skjold.audit.list({ tenantId: A });
    const actions = new Set(entries.map((e) => e.action));
    for (const a of [
      'subject.link',
      'subject.restrict',
      'subject.restrict.lift',
      'subject.objection',
      'subject.rectify',
      'subject.export',
      'request.file',
      'request.extend',
      'tenant.export',
    ]) {
      assert.ok(actions.has(a), a);
    }
    assert.ok(
      entries
        .filter((e) => e.action.startsWith('subject.'))
        .every((e) => e.actor.startsWith(`tenant:${A}/tok-`)),
    );
    const text = JSON.stringify(entries);
    for (const ref of ['restricted', 'objecting']) assert.ok(!text.includes(`"${ref}"`), ref);
    assert.equal((await stack.skjold.audit.verify()).ok, true);
  });
});
