import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { manualClock } from '../lib/clock.ts';
import { addDevice, addTenant, identifierSource } from '../test/e2e/devices.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken, operator } from '../test/harness/tenant-api.ts';

/** The privacy desk and request completion, through the API, with the clock moved by hand. */
const clock = manualClock('2027-03-01T09:00:00Z');
let stack: Stack;
const A = 'vestvarme';
const B = 'nordiot';
let tokenA: string;
let tokenB: string;
const ids: Record<string, string> = {};

interface Desk {
  requests: Array<{ id: string; tenant: string; overdue: boolean; dueAt: string; status: string }>;
  contractsEnding: Array<{ tenant: string; contract: string; daysLeft: number; retentionAt: string }>;
  holds: Array<{ id: string; tenant: string; reason?: string }>;
  lastRetention: { tenant: string; runId: string } | null;
  audit: { ok: boolean; entries: number; problems?: unknown[] };
}

before(async () => {
  stack = await startStack({}, { skjold: { clock } });
  await addTenant(stack.api, A);
  await addTenant(stack.api, B);
  tokenA = (await issueToken(stack, A, ALL_SCOPES)).token;
  tokenB = (await issueToken(stack, B, ALL_SCOPES)).token;
  const ops = operator(stack);
  // A contract that ended 10 months ago: with the default year of grace, its data goes in about 60 days.
  const ended = await callAs(stack, ops, 'POST', `/v1/tenants/${A}/contracts`, {
    id: 'old-heat',
    role: 'processor',
    purpose: 'district heating billing',
    legalBasis: 'contract',
    startsOn: '2024-01-01',
    endsOn: '2026-04-30',
    jurisdiction: 'DK',
  });
  assert.equal(ended.status, 201, ended.body);
  for (const [tenant, token, ref] of [
    [A, tokenA, 'kunde-1'],
    [B, tokenB, 'kunde-9'],
  ] as const) {
    const device = await addDevice(stack.api, identifierSource(tenant), tenant, 'heat_meter');
    await callAs(stack, token, 'PUT', `/tenant/v1/subjects/${ref}/devices`, { deviceId: device.id });
  }
  const file = async (token: string, subjectRef: string, kind: string, receivedAt?: string) => {
    const r = await callAs(stack, token, 'POST', '/tenant/v1/requests', { subjectRef, kind, receivedAt });
    assert.equal(r.status, 201, r.body);
    return r.json<{ id: string }>().id;
  };
  ids.late = await file(tokenA, 'kunde-1', 'access', '2027-01-15T09:00:00Z');
  ids.fresh = await file(tokenA, 'kunde-1', 'rectification');
  ids.other = await file(tokenB, 'kunde-9', 'erasure', '2027-02-20T09:00:00Z');
  const hold = await callAs(stack, ops, 'POST', `/v1/tenants/${A}/holds`, {
    scope: 'tenant',
    reason: 'billing dispute with the housing association',
  });
  ids.hold = hold.json<{ id: string }>().id;
  assert.equal((await callAs(stack, ops, 'POST', `/v1/retention/run?tenant=${A}`)).status, 200);
});
after(() => stack.stop());

test("the operator's desk: overdue requests first, contracts falling due within 90 days, holds with their reason, the last retention run, the audit chain", async () => {
  const res = await callAs(stack, operator(stack), 'GET', '/v1/privacy/desk');
  assert.equal(res.status, 200, res.body);
  const desk = res.json<Desk>();
  assert.deepEqual(
    desk.requests.map((r) => [r.id, r.overdue]),
    [
      [ids.late, true],
      [ids.other, false],
      [ids.fresh, false],
    ],
  );
  assert.deepEqual(
    desk.contractsEnding.map((c) => [c.tenant, c.contract, c.retentionAt, c.daysLeft]),
    [[A, 'old-heat', '2027-05-01', 61]],
  );
  assert.deepEqual(
    desk.holds.map((h) => [h.id, h.reason]),
    [[ids.hold, 'billing dispute with the housing association']],
  );
  assert.equal(desk.lastRetention?.tenant, A);
  assert.equal(desk.audit.ok, true);
  assert.ok(desk.audit.entries > 5);
});

test("a tenant's desk shows its own requests and holds only, and not the operator's reason", async () => {
  const b = (await callAs(stack, tokenB, 'GET', '/tenant/v1/privacy/desk')).json<Desk>();
  assert.deepEqual(
    b.requests.map((r) => r.id),
    [ids.other],
  );
  assert.deepEqual(b.holds, []);
  assert.equal(b.lastRetention, null);
  assert.equal(b.audit.problems, undefined);
  const a = (await callAs(stack, tokenA, 'GET', '/tenant/v1/privacy/desk')).json<Desk>();
  assert.deepEqual(
    a.holds.map((h) => [h.id, 'reason' in h]),
    [[ids.hold, false]],
  );
  const records = await callAs(stack, tokenB, 'GET', '/tenant/v1/records');
  assert.equal(records.status, 200);
  const tenants = records.json<Array<{ tenant: { id: string } }>>().map((r) => r.tenant.id);
  assert.ok(tenants.length > 0);
  assert.deepEqual([...new Set(tenants)], [B]);
});

test('a request completed by the tenant leaves the desk, is audited, and cannot be completed twice', async () => {
  const done = await callAs(stack, tokenA, 'POST', `/tenant/v1/requests/${ids.fresh}/complete`, {
    outcome: 'answered by letter',
  });
  assert.equal(done.status, 200, done.body);
  assert.equal(done.json<{ status: string }>().status, 'completed');
  const again = await callAs(stack, tokenA, 'POST', `/tenant/v1/requests/${ids.fresh}/complete`, {});
  assert.equal(again.status, 409);
  assert.equal(again.json<{ code: string }>().code, 'SKJOLD_ERR_REQUEST_STATE');
  // Another tenant's request is not found, as a made-up one is.
  const cross = await callAs(stack, tokenB, 'POST', `/tenant/v1/requests/${ids.late}/complete`, {});
  assert.equal(cross.status, 404);
  const audit = await callAs(stack, operator(stack), 'GET', `/v1/audit?tenant=${A}&action=request.complete`);
  assert.equal(audit.json<unknown[]>().length, 1);
  const desk = (await callAs(stack, tokenA, 'GET', '/tenant/v1/privacy/desk')).json<Desk>();
  assert.deepEqual(
    desk.requests.map((r) => r.id),
    [ids.late],
  );
});

test('downloading the export of an access request answers it: it leaves the desk', async () => {
  const exp = await callAs(stack, tokenA, 'GET', `/tenant/v1/subjects/kunde-1/export?request=${ids.late}`);
  assert.equal(exp.status, 200, exp.body);
  const r = await callAs(stack, tokenA, 'GET', `/tenant/v1/requests/${ids.late}`);
  assert.equal(r.json<{ status: string }>().status, 'completed');
  const desk = (await callAs(stack, tokenA, 'GET', '/tenant/v1/privacy/desk')).json<Desk>();
  assert.deepEqual(desk.requests, []);
});

test('the retention preview says what a run would do now, per contract', async () => {
  const res = await callAs(stack, tokenA, 'GET', '/tenant/v1/privacy/retention-preview');
  assert.equal(res.status, 200, res.body);
  const [preview] =
    res.json<Array<{ tenant: string; contracts: Array<{ contract: string; status: string }> }>>();
  assert.equal(preview?.tenant, A);
  // Ended, grace not over yet: nothing goes today.
  assert.equal(preview?.contracts.find((c) => c.contract === 'old-heat')?.status, 'not_due');
});
