import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { routeTable } from './guard.ts';
import { DOCS_PREFIX } from './openapi.ts';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.stop());

interface OpenApi {
  openapi: string;
  paths: Record<
    string,
    Record<string, { summary?: string; parameters?: Array<{ name: string; in: string }> }>
  >;
}

test('every route has a schema: a summary, a tag, and its path parameters validated', () => {
  const routes = routeTable(stack.skjold.api).filter(
    (r) => r.method !== 'HEAD' && !r.url.startsWith(DOCS_PREFIX),
  );
  assert.ok(routes.length > 50, `${routes.length} routes`);
  const missing = routes
    .filter((r) => {
      const s = r.schema as { summary?: string; tags?: string[]; params?: unknown } | undefined;
      return !s?.summary || !s.tags?.length || (r.url.includes('/:') && !s.params);
    })
    .map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(missing, []);
});

test('/docs serves the OpenAPI document generated from the zod schemas, without a login', async () => {
  const res = await fetch(new URL(`${DOCS_PREFIX}/json`, stack.apiUrl));
  assert.equal(res.status, 200);
  const doc = (await res.json()) as OpenApi;
  assert.match(doc.openapi, /^3\./);
  const telemetry = doc.paths['/v1/tenants/{tenant}/telemetry']?.get;
  assert.ok(telemetry?.summary);
  const params = new Set(telemetry.parameters?.map((p) => `${p.in}:${p.name}`));
  for (const p of ['path:tenant', 'query:kind', 'query:field', 'query:from', 'query:window'])
    assert.ok(params.has(p), `${p} in ${[...params].join(', ')}`);
  assert.ok(doc.paths['/tenant/v1/subjects/{ref}/erase']?.post);
  const ui = await fetch(new URL(`${DOCS_PREFIX}/`, stack.apiUrl));
  assert.equal(ui.status, 200);
  assert.match(await ui.text(), /swagger/i);
});

test('a request the schema refuses gets 400 SKJOLD_ERR_VALIDATION naming the field, before the handler runs', async () => {
  const res = await stack.skjold.api.inject({
    method: 'POST',
    url: '/v1/tenants',
    headers: { authorization: `Bearer ${stack.config.SKJOLD_OPERATOR_TOKEN}` },
    payload: { id: 'Not Valid', name: '' },
  });
  assert.equal(res.statusCode, 400);
  const body = res.json() as { code: string; message: string };
  assert.equal(body.code, 'SKJOLD_ERR_VALIDATION');
  assert.match(body.message, /^request is invalid: id: .*; name: /);
  assert.deepEqual(await stack.skjold.registry.listTenants(), []);
});
