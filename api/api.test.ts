import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Stack, startStack } from '../test/harness/stack.ts';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.stop());

const call = (method: string, url: string, payload?: unknown) =>
  stack.skjold.api.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${stack.config.SKJOLD_OPERATOR_TOKEN}` },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

const contract = {
  id: 'heat',
  role: 'processor',
  purpose: 'district heating billing',
  legalBasis: 'contract',
  startsOn: '2026-01-01',
  endsOn: null,
  jurisdiction: 'DK',
};

test('probes: /healthz always, /readyz when registry and InfluxDB answer and the broker listens', async () => {
  assert.equal((await stack.skjold.api.inject({ url: '/healthz' })).statusCode, 200);
  const ready = await stack.skjold.api.inject({ url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { ready: true, registry: true, store: true, broker: true });
});

test('/metrics is Prometheus text with Skjold’s counters', async () => {
  const res = await stack.skjold.api.inject({ url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/plain/);
  assert.match(res.body, /# TYPE skjold_ingest_messages_total counter/);
  assert.match(res.body, /# TYPE skjold_transport_buffered_points gauge/);
});

test('without a scrape token /metrics answers loopback callers only', async () => {
  const remote = await stack.skjold.api.inject({ url: '/metrics', remoteAddress: '192.0.2.10' });
  assert.equal(remote.statusCode, 401);
  assert.equal(remote.json().code, 'SKJOLD_ERR_AUTH');
  assert.equal((await stack.skjold.api.inject({ url: '/metrics', remoteAddress: '::1' })).statusCode, 200);
});

test('registration answers clear errors: duplicate, bad dates, unknown contract, missing login identifier', async () => {
  assert.equal(
    (await call('POST', '/v1/tenants', { id: 'aarhus-varme', name: 'Aarhus Varme' })).statusCode,
    201,
  );
  const dup = await call('POST', '/v1/tenants', { id: 'aarhus-varme', name: 'again' });
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json().code, 'SKJOLD_ERR_CONFLICT');
  const badId = await call('POST', '/v1/tenants', { id: 'Aarhus Varme', name: 'x' });
  assert.equal(badId.statusCode, 400);
  assert.match(badId.json().message, /^request is invalid: id:/);

  assert.equal((await call('POST', '/v1/tenants/aarhus-varme/contracts', contract)).statusCode, 201);
  const backwards = await call('POST', '/v1/tenants/aarhus-varme/contracts', {
    ...contract,
    id: 'old',
    endsOn: '2025-01-01',
  });
  assert.equal(backwards.statusCode, 400);
  assert.equal(backwards.json().code, 'SKJOLD_ERR_VALIDATION');

  const noContract = await call('POST', '/v1/tenants/aarhus-varme/devices', {
    kind: 'heat_meter',
    contractId: 'nope',
    identifiers: { wmbus: 'KAM11112222' },
  });
  assert.equal(noContract.statusCode, 404);
  const noLogin = await call('POST', '/v1/tenants/aarhus-varme/devices', {
    kind: 'sim_unit',
    contractId: 'heat',
    identifiers: { imei: '490154203237518' },
  });
  assert.equal(noLogin.statusCode, 400);
  assert.match(noLogin.json().message, /a sim_unit needs its iccid/);
  const unknownKey = await call('POST', '/v1/tenants/aarhus-varme/devices', {
    kind: 'heat_meter',
    contractId: 'heat',
    identifiers: { wmbus: 'KAM11112222', passport: 'X' },
  });
  assert.equal(unknownKey.statusCode, 400);
});

test('a device linked to a subject must be the tenant’s own; another tenant’s looks like no device at all', async () => {
  await call('POST', '/v1/tenants', { id: 'other-co', name: 'Other' });
  await call('POST', '/v1/tenants/other-co/contracts', contract);
  const theirs = (
    await call('POST', '/v1/tenants/other-co/devices', {
      kind: 'heat_meter',
      contractId: 'heat',
      identifiers: { wmbus: 'DME33334444' },
    })
  ).json() as { id: string };
  const ours = (
    await call('POST', '/v1/tenants/aarhus-varme/devices', {
      kind: 'heat_meter',
      contractId: 'heat',
      identifiers: { wmbus: 'DME55556666' },
    })
  ).json() as { id: string };
  assert.equal(
    (await call('PUT', '/v1/tenants/aarhus-varme/subjects/cust-1/devices', { deviceId: ours.id })).statusCode,
    204,
  );
  const cross = await call('PUT', '/v1/tenants/aarhus-varme/subjects/cust-1/devices', {
    deviceId: theirs.id,
  });
  const missing = await call('PUT', '/v1/tenants/aarhus-varme/subjects/cust-1/devices', {
    deviceId: '00000000-0000-4000-8000-000000000000',
  });
  assert.equal(cross.statusCode, 404);
  assert.deepEqual(cross.json(), missing.json());
});

test('the status page needs a login, then shows tenants and counters, and no device or pseudonym', async () => {
  assert.equal((await stack.skjold.api.inject({ url: '/status' })).statusCode, 401);
  const res = await call('GET', '/status');
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /Aarhus Varme/);
  assert.match(res.body, /<td>aarhus-varme<\/td><td>Aarhus Varme<\/td><td>heat_meter: 1<\/td>/);
  assert.match(res.body, /skjold_ingest_messages_total|skjold_store_up/);
  assert.doesNotMatch(res.body, /v1\.[a-z2-7]{26}/);
  assert.doesNotMatch(res.body, /DME55556666/);
});
