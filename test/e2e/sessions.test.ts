import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify from 'fastify';
import { OPERATOR } from '../../api/access.ts';
import { createConsoleUsers } from '../../api/console-users.ts';
import { createFailureLimiter } from '../../api/failure-limit.ts';
import { addGuard } from '../../api/guard.ts';
import { createTenantTokens } from '../../requests/tokens.ts';
import { type RawAnswer, rawHttp } from '../harness/raw-http.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { callAs, operator } from '../harness/tenant-api.ts';
import { addTenant } from './devices.ts';

/** Console sign-in, sessions, CSRF and the per-address limits, over real sockets. */
let stack: Stack;
let port: number;
const TENANT = 'nordvarme';
const PASSWORD = 'correct horse battery staple';
const METRICS_TOKEN = 'scrape-token-0123456789abcdef';

before(async () => {
  stack = await startStack({ SKJOLD_API_RATE: 100, SKJOLD_METRICS_TOKEN: METRICS_TOKEN });
  port = Number(new URL(stack.apiUrl).port);
  await addTenant(stack.api, TENANT);
  const dpo = await callAs(stack, operator(stack), 'POST', '/v1/users', {
    username: 'dpo',
    role: 'tenant_dpo',
    tenantId: TENANT,
    password: PASSWORD,
  });
  assert.equal(dpo.status, 201, dpo.body);
});
after(() => stack.stop());

function http(
  method: string,
  path: string,
  options: { headers?: string[]; body?: unknown; from?: string } = {},
): Promise<RawAnswer> {
  const body = options.body === undefined ? '' : JSON.stringify(options.body);
  const head = [
    `${method} ${path} HTTP/1.1`,
    'host: 127.0.0.1',
    ...(body ? ['content-type: application/json'] : []),
    ...(options.headers ?? []),
  ].join('\r\n');
  return rawHttp(port, head, body, options.from ? { localAddress: options.from } : {});
}

async function signIn(body: unknown, from?: string) {
  const res = await http('POST', '/console/login', { body, ...(from ? { from } : {}) });
  const cookie = res.headers['set-cookie'] ?? '';
  return {
    res,
    cookie,
    session: cookie.split(';')[0] ?? '',
    csrf: res.status === 200 ? JSON.parse(res.body).csrfToken : '',
  };
}

test('a tenant DPO signs in: an HttpOnly, SameSite=Strict cookie that reaches its own tenant and nothing else', async () => {
  const { res, cookie, session } = await signIn({ username: 'dpo', password: PASSWORD }, '127.0.0.4');
  assert.equal(res.status, 200, res.body);
  assert.match(cookie, /^skjold_session=[A-Za-z0-9_-]{40,};/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(cookie, /Path=\//);
  assert.deepEqual(JSON.parse(res.body).user, { username: 'dpo', role: 'tenant_dpo', tenantId: TENANT });
  assert.equal((await http('GET', '/tenant/v1/requests', { headers: [`cookie: ${session}`] })).status, 200);
  assert.equal((await http('GET', '/console/session', { headers: [`cookie: ${session}`] })).status, 200);
  // An operator route, and the tenant-wide export a DPO's role does not carry.
  assert.equal((await http('GET', '/v1/tenants', { headers: [`cookie: ${session}`] })).status, 401);
  const exp = await http('GET', '/tenant/v1/export', { headers: [`cookie: ${session}`] });
  assert.equal(exp.status, 403);
  assert.equal(JSON.parse(exp.body).code, 'SKJOLD_ERR_SCOPE');
});

test('a write made with the session cookie needs its CSRF token', async () => {
  const { session, csrf } = await signIn({ username: 'dpo', password: PASSWORD }, '127.0.0.4');
  const request = { subjectRef: 'kunde-1', kind: 'access' };
  const none = await http('POST', '/tenant/v1/requests', { headers: [`cookie: ${session}`], body: request });
  assert.equal(none.status, 401, none.body);
  const wrong = await http('POST', '/tenant/v1/requests', {
    headers: [`cookie: ${session}`, 'x-csrf-token: not-the-token'],
    body: request,
  });
  assert.equal(wrong.status, 401, wrong.body);
  // With the token the request is judged on its merits (the subject is unknown here: 404, not a refusal).
  const right = await http('POST', '/tenant/v1/requests', {
    headers: [`cookie: ${session}`, `x-csrf-token: ${csrf}`],
    body: request,
  });
  assert.equal(right.status, 404, right.body);
  assert.equal(JSON.parse(right.body).code, 'SKJOLD_ERR_NOT_FOUND');
});

test('signing out ends the session everywhere: the old cookie is refused afterwards', async () => {
  const { session, csrf } = await signIn({ username: 'dpo', password: PASSWORD }, '127.0.0.4');
  assert.equal((await http('GET', '/tenant/v1/requests', { headers: [`cookie: ${session}`] })).status, 200);
  const out = await http('POST', '/console/logout', {
    headers: [`cookie: ${session}`, `x-csrf-token: ${csrf}`],
  });
  assert.equal(out.status, 204);
  assert.match(out.headers['set-cookie'] ?? '', /skjold_session=;.*Max-Age=0/);
  assert.equal((await http('GET', '/tenant/v1/requests', { headers: [`cookie: ${session}`] })).status, 401);
  assert.equal((await http('GET', '/console/session', { headers: [`cookie: ${session}`] })).status, 401);
});

test('a one-time sign-in code works once', async () => {
  await stack.skjold.users.create({ username: 'operator', role: 'operator' });
  const issued = await callAs(stack, operator(stack), 'POST', '/v1/users/operator/sign-in-code');
  assert.equal(issued.status, 201, issued.body);
  const { code, path } = issued.json<{ code: string; path: string }>();
  assert.equal(path, `/login#code=${code}`);
  const first = await signIn({ code }, '127.0.0.5');
  assert.equal(first.res.status, 200, first.res.body);
  assert.equal(JSON.parse(first.res.body).user.role, 'operator');
  assert.equal((await http('GET', '/v1/tenants', { headers: [`cookie: ${first.session}`] })).status, 200);
  assert.equal((await signIn({ code }, '127.0.0.5')).res.status, 401);
});

test('failed sign-ins from one address are answered 429 after the limit, while another address signs in', async () => {
  const flood = '127.0.0.6';
  const answers: number[] = [];
  for (let i = 0; i < 12; i++)
    answers.push((await signIn({ username: 'dpo', password: `wrong-${i}` }, flood)).res.status);
  assert.deepEqual(answers.slice(0, 10), Array(10).fill(401));
  assert.deepEqual(answers.slice(10), [429, 429]);
  // Even the right password waits now: guessing cannot go on at speed.
  const blocked = await signIn({ username: 'dpo', password: PASSWORD }, flood);
  assert.equal(blocked.res.status, 429);
  assert.equal(JSON.parse(blocked.res.body).code, 'SKJOLD_ERR_RATE_LIMITED');
  assert.ok(Number(blocked.res.headers['retry-after']) >= 1);
  // So do tokens guessed from there.
  assert.equal(
    (await http('GET', '/v1/tenants', { headers: ['authorization: Bearer x'], from: flood })).status,
    429,
  );
  assert.equal((await signIn({ username: 'dpo', password: PASSWORD }, '127.0.0.7')).res.status, 200);
});

test('requests without any credential are refused but are no failed sign-ins: the address is not locked out', async () => {
  const from = '127.0.0.10';
  for (let i = 0; i < 25; i++) assert.equal((await http('GET', '/v1/tenants', { from })).status, 401);
  assert.equal((await signIn({ username: 'dpo', password: PASSWORD }, from)).res.status, 200);
});

test('more requests a minute than SKJOLD_API_RATE from one address get 429 SKJOLD_ERR_RATE_LIMITED', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 105; i++) statuses.push((await http('GET', '/healthz', { from: '127.0.0.8' })).status);
  assert.equal(statuses.filter((s) => s === 200).length, 100);
  const last = await http('GET', '/healthz', { from: '127.0.0.8' });
  assert.equal(last.status, 429);
  assert.equal(JSON.parse(last.body).code, 'SKJOLD_ERR_RATE_LIMITED');
  assert.equal((await http('GET', '/healthz', { from: '127.0.0.9' })).status, 200);
});

test('/metrics with a scrape token configured: the token, and nothing else, reads it', async () => {
  assert.equal((await http('GET', '/metrics')).status, 401);
  assert.equal(
    (await http('GET', '/metrics', { headers: ['authorization: Bearer wrong-token-0123456789'] })).status,
    401,
  );
  assert.equal(
    (await http('GET', '/metrics', { headers: [`authorization: Bearer ${operator(stack)}`] })).status,
    401,
  );
  const ok = await http('GET', '/metrics', { headers: [`authorization: Bearer ${METRICS_TOKEN}`] });
  assert.equal(ok.status, 200);
  assert.match(ok.body, /skjold_api_auth_refused_total\{reason="missing"\} [1-9]/);
});

test('a route that declares no access stops the API from starting', async () => {
  const app = Fastify();
  const sql = stack.skjold.registry.sql;
  addGuard(app, {
    operatorToken: 'operator-token-0123456789abcdef',
    tenantTokens: createTenantTokens(sql),
    users: createConsoleUsers(sql, () => new Date()),
    failures: createFailureLimiter({ perMinute: 10 }),
    refused: () => {},
  });
  app.get('/declared', { config: { access: OPERATOR } }, async () => 'ok');
  app.register(async (plugin) => {
    plugin.get('/forgotten', async () => 'open to all?');
  });
  await assert.rejects(async () => {
    await app.ready();
  }, /routes without an access declaration: GET \/forgotten, HEAD \/forgotten/);
});
