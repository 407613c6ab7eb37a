/**
 * The console in a real browser (Debian's Chromium) against a whole Skjold
 * with a real influxd, as the operator: signing in, live telemetry, a
 * restricted subject left out, fleet health, the privacy desk and the art. 30
 * records. Every step leaves a screenshot in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { screenshot } from '../harness/browser.ts';
import { callAs, operator } from '../harness/tenant-api.ts';
import {
  A,
  B,
  type ConsoleWorld,
  startConsoleWorld,
  WAIT,
  waitForAttr,
  waitVisible,
} from './console-world.ts';

/** A CO₂ value no simulated sensor reaches: when the chart's maximum is this, the chart shows the new reading. */
const MARKER_PPM = 31_337;

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
});
after(() => w?.stop());
afterEach(() => assert.deepEqual(w.takeErrors(), [], 'the console raised no script error'));

describe('console: the operator', () => {
  test('a signed-out browser asking for the console gets the sign-in page', async () => {
    const page = w.watch(await w.browser.newPage());
    const res = await page.goto(`${w.stack.apiUrl}/`);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(res?.status(), 200);
    assert.equal(await page.locator('#login-form').count(), 1);
    await screenshot(page, '01-sign-in');
    await page.close();
    // Only a browser's page request is redirected; a script gets the guard's 401 like on any other route.
    const browserLike = await fetch(`${w.stack.apiUrl}/`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    assert.equal(browserLike.status, 302);
    assert.equal(browserLike.headers.get('location'), '/login');
    const script = await fetch(`${w.stack.apiUrl}/`, { redirect: 'manual' });
    assert.equal(script.status, 401);
    assert.equal(((await script.json()) as { code: string }).code, 'SKJOLD_ERR_AUTH');
  });

  test('a one-time sign-in link signs in once, and leaves no code in the address bar', async () => {
    const issued = await callAs(w.stack, operator(w.stack), 'POST', '/v1/users/ops/sign-in-code', {});
    assert.equal(issued.status, 201, issued.body);
    const { path } = issued.json<{ path: string }>();
    const context = await w.browser.newContext({ locale: 'en-GB' });
    const page = w.watch(await context.newPage());
    await page.goto(`${w.stack.apiUrl}${path}`);
    await page.waitForSelector('#shell:not([hidden])', WAIT);
    assert.equal(new URL(page.url()).pathname, '/');
    assert.doesNotMatch(page.url(), /code=/);
    assert.match((await page.textContent('#who')) ?? '', /ops/);
    // Used: the same link again only says so.
    const again = w.watch(await (await w.browser.newContext()).newPage());
    await again.goto(`${w.stack.apiUrl}${path}`);
    await again.waitForSelector('#login-error:not([hidden])', WAIT);
    assert.match((await again.textContent('#login-error')) ?? '', /used already or has expired/);
    await screenshot(again, '01-sign-in-link-used');
    await context.close();
    await again.context().close();
  });

  test('an operator signs in and sees a reading published after the page loaded arrive in the chart, without reload', async () => {
    const page = await w.signIn('ops');
    await page.goto(
      `${w.stack.apiUrl}/#/tenants/${A}/telemetry?kind=building_sensor&fields=co2_ppm,temperature_c&range=15m&window=10s&agg=max&live=1`,
    );
    const chart = '.chart[data-field="co2_ppm"]';
    await waitForAttr(page, chart, 'data-points', (v) => Number(v) > 0);
    await page.waitForSelector(`${chart} canvas`, WAIT);
    await screenshot(page, '02-operator-telemetry');
    assert.notEqual(await page.getAttribute(chart, 'data-max'), String(MARKER_PPM));

    await page.evaluate('window.loadedOnce = true');
    await w.publish(w.seen, MARKER_PPM);
    await waitForAttr(page, chart, 'data-max', (v) => v === String(MARKER_PPM));
    assert.equal(await page.evaluate('window.loadedOnce'), true, 'the same page, not a reload');
    await screenshot(page, '03-operator-live-reading');
    await page.context().close();
  });

  test('leaving the explorer while it saves its form state in the address opens the page asked for', async () => {
    const page = await w.signIn('ops');
    await page.goto(`${w.stack.apiUrl}/#/tenants/${A}/telemetry?kind=building_sensor&live=0`);
    await waitForAttr(page, '.chart', 'data-points', (v) => Number(v) > 0);
    // The address changes at once, its hashchange runs a task later; the explorer saves its form in between.
    await page.evaluate(
      "location.hash = '#/fleet'; document.getElementById('agg').dispatchEvent(new Event('change'))",
    );
    await waitVisible(page, '#fleet-kpis');
    assert.equal(await page.textContent('#page-title'), 'Fleet health');
    assert.equal(new URL(page.url()).hash, '#/fleet');
    await page.context().close();
  });

  test('a restricted subject’s device is in no chart and no device picker', async () => {
    const page = await w.signIn('ops');
    const bodies: string[] = [];
    page.on('response', async (res) => {
      if (res.url().includes('/telemetry')) bodies.push(await res.text().catch(() => ''));
    });
    await page.goto(
      `${w.stack.apiUrl}/#/tenants/${A}/telemetry?kind=building_sensor&fields=co2_ppm&range=15m&live=0`,
    );
    await waitForAttr(page, '.chart', 'data-points', (v) => Number(v) > 0);
    const options = await Promise.all(
      (await page.locator('#devices option').all()).map((o) => o.getAttribute('value')),
    );
    assert.ok(options.includes(w.seen.pseudonym), 'the unrestricted sensor is offered');
    assert.ok(!options.includes(w.hidden.pseudonym), 'the restricted subject’s sensor is not offered');
    assert.ok(bodies.some((b) => b.includes(w.seen.pseudonym)));
    assert.ok(
      bodies.every((b) => !b.includes(w.hidden.pseudonym)),
      'no telemetry answer names it',
    );
    assert.ok(!(await page.content()).includes(w.hidden.pseudonym));
    await screenshot(page, '04-restricted-left-out');
    await page.context().close();
  });

  test('an operator sees fleet health, the privacy desk and the art. 30 records', async () => {
    const page = await w.signIn('ops');
    await page.goto(`${w.stack.apiUrl}/#/fleet`);
    await waitVisible(page, '#fleet-kpis .pill.ok');
    const fleet = (await page.textContent('#page')) ?? '';
    assert.match(fleet, /Building sensors/);
    assert.match(fleet, new RegExp(B));
    assert.ok(
      !(await page.content()).includes(w.hidden.pseudonym),
      'the restricted subject’s sensor is in no list',
    );
    await screenshot(page, '05-operator-fleet-health');

    await page.goto(`${w.stack.apiUrl}/#/privacy`);
    await page.waitForSelector('#audit-status', WAIT);
    assert.match((await page.textContent('#audit-status')) ?? '', /Chain intact/);
    await screenshot(page, '06-operator-privacy-desk');

    await page.goto(`${w.stack.apiUrl}/#/tenants/${A}/records`);
    await page.waitForSelector('.record', WAIT);
    assert.equal(await page.locator('.record').count(), 3, 'one record per contract of the tenant');
    await screenshot(page, '07-operator-records');
    await page.context().close();
  });
});
