import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { routeTable } from '../../api/guard.ts';
import { TOKEN_SCOPES } from '../../requests/tokens.ts';
import { type RawAnswer, rawHttp } from '../harness/raw-http.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { callAs, issueToken, operator } from '../harness/tenant-api.ts';
import { addDevice, addTenant, identifierSource } from './devices.ts';

/**
 * Every route, attacked over a real TCP socket as an outsider would: no
 * credential, wrong credentials, another tenant's token, a token without the
 * route's scope, and hostile spellings of the request line. The routes come
 * from the API itself (the guard's onRoute table), so a route added later is
 * attacked too.
 */
let stack: Stack;
let port: number;
const A = 'alfa-varme';
const B = 'bravo-iot';
const REF = 'kunde-1001';
const METRICS_TOKEN = 'scrape-token-0123456789abcdef';
let tokenB: string;
const withoutScope = new Map<string, string>();
let real: Record<string, string>;

before(async () => {
  stack = await startStack({
    SKJOLD_METRICS_TOKEN: METRICS_TOKEN,
    // This file sends thousands of refused requests from one address on purpose.
    SKJOLD_API_AUTH_FAILURES: 1_000_000,
    SKJOLD_API_RATE: 1_000_000,
  });
  port = Number(new URL(stack.apiUrl).port);
  await addTenant(stack.api, A);
  await addTenant(stack.api, B);
  const device = await addDevice(stack.api, identifierSource('boundary'), A, 'heat_meter');
  const full = (await issueToken(stack, A, [...TOKEN_SCOPES])).token;
  tokenB = (await issueToken(stack, B, [...TOKEN_SCOPES])).token;
  for (const scope of TOKEN_SCOPES)
    withoutScope.set(
      scope,
      (
        await issueToken(
          stack,
          A,
          TOKEN_SCOPES.filter((s) => s !== scope),
        )
      ).token,
    );
  const link = await callAs(stack, full, 'PUT', `/tenant/v1/subjects/${REF}/devices`, {
    deviceId: device.id,
  });
  assert.equal(link.status, 200, link.body);
  const request = await callAs(stack, full, 'POST', '/tenant/v1/requests', {
    subjectRef: REF,
    kind: 'access',
  });
  const hold = await callAs(stack, operator(stack), 'POST', `/v1/tenants/${A}/holds`, {
    scope: 'tenant',
    reason: 'billing dispute',
  });
  real = {
    tenant: A,
    ref: REF,
    contract: 'heat',
    username: 'operator',
    request: request.json<{ id: string }>().id,
    hold: hold.json<{ id: string }>().id,
    token: (await issueToken(stack, A, ['requests'])).id,
  };
  await stack.skjold.users.create({ username: 'operator', role: 'operator' });
});
after(() => stack.stop());

const NONE: Record<string, string> = {
  tenant: 'no-such-tenant',
  ref: 'no-such-ref',
  contract: 'no-such-contract',
  username: 'no-such-user',
  request: 'req-00000000-0000-0000-0000-000000000000',
  hold: 'hold-00000000-0000-0000-0000-000000000000',
  token: 'tok-00000000-0000-0000-0000-000000000000',
};

/** The route's path with its parameters filled from `values`; `:id` means a request, a hold or a token by route. */
function fill(url: string, values: Record<string, string>): string {
  return url.replace(/:([a-z]+)/g, (_m, name: string) => {
    if (name !== 'id') return encodeURIComponent(values[name] ?? 'x');
    if (url.includes('/holds/')) return values.hold as string;
    if (url.includes('/tokens/')) return values.token as string;
    return values.request as string;
  });
}

// Every route but the public ones (probes, sign-in, the API's own documentation).
const routes = () =>
  routeTable(stack.skjold.api).flatMap((r) =>
    r.access && r.access.kind !== 'public' ? [{ method: r.method, url: r.url, access: r.access }] : [],
  );

function send(
  method: string,
  path: string,
  headers: string[] = [],
  requestTarget = path,
): Promise<RawAnswer> {
  const hasBody = method === 'POST' || method === 'PUT';
  return rawHttp(
    port,
    [
      `${method} ${requestTarget} HTTP/1.1`,
      'host: 127.0.0.1',
      ...headers,
      ...(hasBody ? ['content-type: application/json'] : []),
    ].join('\r\n'),
    hasBody ? '{}' : '',
  );
}

/** What a caller gets for a path no route serves: the answer every refusal must look like. */
const answerKey = (a: RawAnswer) => `${a.status} ${a.body}`;

test('the reported bypass is closed: percent-encoded /v1 gets 401, no tenant list and no token', async () => {
  for (const path of ['/%761/tenants', '/v%31/tenants', '/%76%31/tenants']) {
    const res = await send('GET', path);
    assert.equal(res.status, 401, `${path}: ${res.body}`);
    assert.doesNotMatch(res.body, new RegExp(A));
  }
  const issue = await rawHttp(
    port,
    `POST /%761/tenants/${A}/tokens HTTP/1.1\r\nhost: x\r\ncontent-type: application/json`,
    JSON.stringify({ scopes: [...TOKEN_SCOPES] }),
  );
  assert.equal(issue.status, 401, issue.body);
  assert.doesNotMatch(issue.body, /skjt_/);
});

test('every route refuses a caller without a credential, or with a wrong one, exactly as a path that does not exist', async () => {
  const wrong = [
    [],
    ['authorization: Bearer wrong-token'],
    ['authorization: Bearer skjt_not-a-real-token'],
    ['authorization: Bearer '],
    ['authorization: Basic b3BlcmF0b3I6cGFzc3dvcmQ='],
    ['cookie: skjold_session=forged-session-id'],
  ];
  for (const headers of wrong) {
    const missing = answerKey(await send('GET', '/v1/no-such-route', headers));
    assert.match(missing, /^401 /);
    assert.equal(answerKey(await send('GET', '/no-such-page', headers)), missing);
    for (const r of routes()) {
      const res = await send(r.method, fill(r.url, real), headers);
      assert.equal(
        r.method === 'HEAD' ? res.status : answerKey(res),
        r.method === 'HEAD' ? 401 : missing,
        `${r.method} ${r.url} with ${headers.join() || 'nothing'}`,
      );
    }
  }
});

test('a tenant token is refused on every operator route and /metrics, as a made-up path is', async () => {
  const missing = answerKey(await send('GET', '/v1/no-such-route', [`authorization: Bearer ${tokenB}`]));
  const refused = answerKey(await send('GET', '/v1/tenants'));
  for (const r of routes().filter((x) => x.access.kind === 'operator' || x.access.kind === 'metrics')) {
    const res = await send(r.method, fill(r.url, real), [`authorization: Bearer ${tokenB}`]);
    assert.equal(res.status, 401, `${r.method} ${r.url}`);
    if (r.method !== 'HEAD') assert.equal(answerKey(res), refused, `${r.method} ${r.url}`);
  }
  // With a valid credential, a path that does not exist is simply not found.
  assert.match(missing, /^404 /);
});

test("another tenant's token gets the same answer for this tenant's subject, request or hold as for a made-up one", async () => {
  const auth = [`authorization: Bearer ${tokenB}`];
  for (const r of routes().filter((x) => x.access.kind === 'tenant')) {
    const theirs = await send(r.method, fill(r.url, real), auth);
    const made = await send(r.method, fill(r.url, NONE), auth);
    assert.ok(theirs.status >= 400 || !r.url.includes(':'), `${r.method} ${r.url}: ${theirs.status}`);
    if (r.url.includes(':')) assert.equal(answerKey(theirs), answerKey(made), `${r.method} ${r.url}`);
    // Routes without a parameter act on the caller's own tenant: nothing of the other one shows.
    assert.doesNotMatch(theirs.body, new RegExp(`${A}|${real.request}`), `${r.method} ${r.url}`);
  }
});

test("a token without the route's scope is refused before anything is looked up: 403, for a real or a made-up resource", async () => {
  for (const r of routes().filter((x) => x.access.kind === 'tenant')) {
    if (r.access.kind !== 'tenant') continue;
    const auth = [`authorization: Bearer ${withoutScope.get(r.access.scope)}`];
    const theirs = await send(r.method, fill(r.url, real), auth);
    const made = await send(r.method, fill(r.url, NONE), auth);
    assert.equal(theirs.status, 403, `${r.method} ${r.url}: ${theirs.body}`);
    assert.equal(answerKey(theirs), answerKey(made), `${r.method} ${r.url}`);
    if (r.method !== 'HEAD') assert.equal(JSON.parse(theirs.body).code, 'SKJOLD_ERR_SCOPE');
  }
});

/** Spellings of one request line that a check on the URL text would misread. */
function hostileVariants(
  method: string,
  path: string,
): Array<{ name: string; method: string; target: string; headers?: string[] }> {
  const segments = path.split('/').filter(Boolean);
  const encodeAll = (s: string) =>
    s.replace(/[A-Za-z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const encodeFirst = segments.map((s, i) => (i === 0 ? encodeAll(s.slice(0, 1)) + s.slice(1) : s));
  const other = method === 'GET' ? 'POST' : 'GET';
  return [
    { name: 'first letter encoded', method, target: `/${encodeFirst.join('/')}` },
    { name: 'every letter and digit encoded', method, target: `/${segments.map(encodeAll).join('/')}` },
    {
      name: 'upper-case hex',
      method,
      target: `/${segments.map((s) => encodeAll(s).toUpperCase()).join('/')}`,
    },
    { name: '%2F for /', method, target: `/${segments.join('%2F')}` },
    { name: '%2f for /', method, target: `/${segments.join('%2f')}` },
    { name: 'double slashes', method, target: `//${segments.join('//')}` },
    { name: 'absolute form', method, target: `http://127.0.0.1:${port}${path}` },
    { name: 'absolute form, other host', method, target: `http://x${path}` },
    { name: 'dot-dot from /tenant/v1', method, target: `/tenant/v1/../..${path}` },
    { name: 'dot-dot encoded', method, target: `/x/%2e%2e${path}` },
    { name: 'dot segment', method, target: `/.${path}` },
    { name: 'trailing slash', method, target: `${path}/` },
    { name: 'upper case', method, target: path.toUpperCase() },
    { name: 'mixed case', method, target: path.replace(/v1/g, 'V1') },
    { name: 'semicolon parameter', method, target: `${path};x=1` },
    { name: 'query', method, target: `${path}?access=public` },
    { name: 'fragment', method, target: `${path}#x` },
    { name: 'HEAD', method: 'HEAD', target: path },
    { name: 'OPTIONS', method: 'OPTIONS', target: path },
    {
      name: 'method-override headers',
      method: other,
      target: path,
      headers: [
        `x-http-method-override: ${method}`,
        `x-method-override: ${method}`,
        `x-http-method: ${method}`,
      ],
    },
    { name: '_method parameter', method: other, target: `${path}?_method=${method}` },
  ];
}

test('no hostile spelling of any route reaches it without a credential', async () => {
  const seen = new Map<number, number>();
  for (const r of routes()) {
    if (r.method === 'HEAD') continue;
    const path = fill(r.url, real);
    for (const v of hostileVariants(r.method, path)) {
      const res = await send(v.method, path, v.headers ?? [], v.target);
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      // 401 from the guard, or 400 when Node's parser refuses the line outright; never an answer from a route.
      assert.ok(
        res.status === 401 || res.status === 400,
        `${r.method} ${r.url} as ${v.name} (${v.method} ${v.target}): ${res.status} ${res.body}`,
      );
      assert.doesNotMatch(res.body, new RegExp(`${A}|${B}|skjt_|${real.request}`), `${v.name}: ${res.body}`);
    }
  }
  assert.ok((seen.get(401) ?? 0) > 0);
});

test("hostile spellings with a tenant's token reach no operator route", async () => {
  for (const r of routes().filter((x) => x.access.kind === 'operator')) {
    if (r.method === 'HEAD') continue;
    const path = fill(r.url, real);
    for (const v of hostileVariants(r.method, path)) {
      const res = await send(
        v.method,
        path,
        [...(v.headers ?? []), `authorization: Bearer ${tokenB}`],
        v.target,
      );
      assert.ok(
        [400, 401, 404].includes(res.status),
        `${r.method} ${r.url} as ${v.name}: ${res.status} ${res.body}`,
      );
    }
  }
});
