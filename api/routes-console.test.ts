import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { CONSOLE_ASSETS, CONSOLE_PAGES, registerConsoleRoutes } from './routes-console.ts';

let app: FastifyInstance;
before(async () => {
  app = Fastify();
  // As in the API (api/openapi.ts): route schemas are zod.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerConsoleRoutes(app);
  await app.ready();
});
after(() => app.close());

test('the sign-in page is served with a policy that allows only this origin’s scripts and no framing', async () => {
  const res = await app.inject({ url: CONSOLE_PAGES.login });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/html/);
  assert.match(res.body, /<form id="login-form"/);
  assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
  assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
  assert.equal(res.headers['cache-control'], 'no-store');
});

test('the console’s scripts, styles and uPlot come from this server, not a CDN', async () => {
  const page = (await app.inject({ url: CONSOLE_PAGES.console })).body;
  const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
  assert.ok(refs.length >= 3);
  for (const ref of refs.filter((r) => !r.startsWith('data:'))) {
    assert.ok(ref.startsWith(CONSOLE_ASSETS), `${ref} is served by Skjold`);
    assert.equal((await app.inject({ url: ref })).statusCode, 200, ref);
  }
  const uplot = await app.inject({ url: `${CONSOLE_ASSETS}vendor/uPlot.esm.js` });
  assert.equal(uplot.statusCode, 200);
  assert.match(String(uplot.headers['content-type']), /javascript/);
  assert.match(uplot.body, /export \{ uPlot as default \}|export default/);
  const chart = await app.inject({ url: `${CONSOLE_ASSETS}js/chart.js` });
  assert.match(chart.body, /from '\/console\/assets\/vendor\/uPlot\.esm\.js'/);
});

test('nothing outside the console’s folders is served', async () => {
  for (const url of [
    `${CONSOLE_ASSETS}vendor/uPlot.cjs.js`,
    `${CONSOLE_ASSETS}vendor/..%2F..%2F..%2Fpackage.json`,
    `${CONSOLE_ASSETS}..%2F..%2Fpackage.json`,
    `${CONSOLE_ASSETS}%2e%2e/%2e%2e/api/server.ts`,
    `${CONSOLE_ASSETS}nothing.js`,
  ]) {
    const res = await app.inject({ url });
    assert.ok([403, 404].includes(res.statusCode), `${url}: ${res.statusCode}`);
    assert.doesNotMatch(res.body, /"dependencies"|createApi/);
  }
});
