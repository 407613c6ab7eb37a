/**
 * The console in a real browser (Debian's Chromium) against a whole Skjold
 * with a real influxd: people sign in, see live telemetry, file and answer a
 * subject's request, and sign out. Every step leaves a screenshot in
 * test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { ARTIFACTS, type Browser, launchBrowser, type Page, screenshot } from '../harness/browser.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken, operator } from '../harness/tenant-api.ts';
import {
  addDevice,
  addTenantFleet,
  connectDevice,
  endAll,
  eventually,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';

const A = 'nordvarme';
const B = 'sverige-iot';
const PASSWORD = 'correct horse battery staple';
/** A CO₂ value no simulated sensor reaches: when the chart's maximum is this, the chart shows the new reading. */
const MARKER_PPM = 31_337;
const WAIT = { timeout: 30_000 };

let stack: Stack;
let browser: Browser;
let seen: TestDevice;
let hidden: TestDevice;
/** The tenant's second, unrestricted sensor. */
let other: TestDevice;
/** The sensor of the subject the DPO erases. */
let gone: TestDevice;
const clients: MqttClient[] = [];
let seq = 0;
/** Uncaught errors in the console's scripts: each test ends with none. */
const scriptErrors: string[] = [];
afterEach(() => assert.deepEqual(scriptErrors.splice(0), [], 'the console raised no script error'));

async function publish(device: TestDevice, client: MqttClient, co2?: number, time?: number): Promise<void> {
  const reading = validReading(device, ++seq, time);
  await publishAcked(
    client,
    device.telemetry,
    JSON.stringify(co2 === undefined ? reading : { ...reading, co2_ppm: co2 }),
  );
}

async function signIn(username: string): Promise<Page> {
  // Our users read English in Denmark and Sweden: a British English browser, not an American one.
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    locale: 'en-GB',
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => scriptErrors.push(err.message));
  // The pages' Content-Security-Policy must not have to block anything the console itself does.
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) scriptErrors.push(msg.text());
  });
  await page.goto(`${stack.apiUrl}/login`);
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForURL((url) => url.pathname === '/', WAIT);
  await page.waitForSelector('#shell:not([hidden])', WAIT);
  return page;
}

/** Waits until `attr` of the first `selector` in the page satisfies `ok`. */
async function waitForAttr(
  page: Page,
  selector: string,
  attr: string,
  ok: (value: string | null) => boolean,
) {
  try {
    await eventually(
      `${selector} ${attr}`,
      async () => ok(await page.getAttribute(selector, attr)),
      WAIT.timeout,
    );
  } catch (err) {
    await screenshot(page, `failed-${attr}`);
    throw err;
  }
}

const sessionCookie = async (page: Page) =>
  (await page.context().cookies()).find((c) => c.name === 'skjold_session')?.value;

before(async () => {
  // Every signed-out probe counts as a failed authentication; this file makes more than the default allows a minute.
  stack = await startStack({ SKJOLD_API_AUTH_FAILURES: 1000 });
  browser = await launchBrowser();
  const fleetA = await addTenantFleet(stack.api, A, 2, ['building_sensor']);
  await addTenantFleet(stack.api, B, 1, ['building_sensor']);
  seen = fleetA[0]!;
  other = fleetA[1]!;
  hidden = await addDevice(stack.api, identifierSource(`${A}-restricted`), A, 'building_sensor');
  gone = await addDevice(stack.api, identifierSource(`${A}-erased`), A, 'building_sensor');
  const op = (method: string, path: string, body?: unknown) =>
    callAs(stack, operator(stack), method, path, body);
  for (const [ref, device] of [
    ['cust-1001', seen],
    ['cust-2002', hidden],
    ['cust-3003', gone],
  ] as const) {
    const linked = await op('PUT', `/v1/tenants/${A}/subjects/${ref}/devices`, { deviceId: device.id });
    assert.ok(linked.status < 300, linked.body);
  }
  for (const user of [
    { username: 'ops', role: 'operator' },
    { username: 'dpo.nordvarme', role: 'tenant_dpo', tenantId: A },
    { username: 'admin.nordvarme', role: 'tenant_admin', tenantId: A },
  ]) {
    const created = await op('POST', '/v1/users', { ...user, password: PASSWORD });
    assert.equal(created.status, 201, created.body);
  }
  // Art. 18: the tenant restricts one subject; its sensor keeps sending.
  const token = (await issueToken(stack, A, [...ALL_SCOPES])).token;
  const restricted = await callAs(stack, token, 'POST', '/tenant/v1/subjects/cust-2002/restrict', {});
  assert.equal(restricted.status, 200, restricted.body);
  for (const device of [seen, hidden, other, gone]) clients.push(await connectDevice(stack.mqttUrl, device));
  // A quarter of an hour of history, a reading every 30 s, so the charts have lines before anything arrives live.
  const [s1, s2, s3] = [seen, hidden, other];
  for (let ago = 29; ago >= 0; ago--) {
    const time = Date.now() - ago * 30_000;
    await publish(s1, clients[0]!, undefined, time);
    await publish(s2, clients[1]!, undefined, time);
    await publish(s3, clients[2]!, undefined, time);
    await publish(gone, clients[3]!, undefined, time);
  }
  await stack.settled();
});

after(async () => {
  await endAll(clients);
  await browser?.close();
  await stack?.stop();
});

describe('console', () => {
  test('a signed-out browser asking for the console gets the sign-in page', async () => {
    const page = await browser.newPage();
    page.on('pageerror', (err) => scriptErrors.push(err.message));
    const res = await page.goto(`${stack.apiUrl}/`);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(res?.status(), 200);
    assert.equal(await page.locator('#login-form').count(), 1);
    await screenshot(page, '01-sign-in');
    await page.close();
    // Only a browser's page request is redirected; a script gets the guard's 401 like on any other route.
    const browserLike = await fetch(`${stack.apiUrl}/`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    assert.equal(browserLike.status, 302);
    assert.equal(browserLike.headers.get('location'), '/login');
    const script = await fetch(`${stack.apiUrl}/`, { redirect: 'manual' });
    assert.equal(script.status, 401);
    assert.equal(((await script.json()) as { code: string }).code, 'SKJOLD_ERR_AUTH');
  });

  test('an operator signs in and sees a reading published after the page loaded arrive in the chart, without reload', async () => {
    const page = await signIn('ops');
    await page.goto(
      `${stack.apiUrl}/#/tenants/${A}/telemetry?kind=building_sensor&fields=co2_ppm,temperature_c&range=15m&window=10s&agg=max&live=1`,
    );
    const chart = '.chart[data-field="co2_ppm"]';
    await waitForAttr(page, chart, 'data-points', (v) => Number(v) > 0);
    await page.waitForSelector(`${chart} canvas`, WAIT);
    await screenshot(page, '02-operator-telemetry');
    assert.notEqual(await page.getAttribute(chart, 'data-max'), String(MARKER_PPM));

    await page.evaluate('window.loadedOnce = true');
    await publish(seen, clients[0]!, MARKER_PPM);
    await waitForAttr(page, chart, 'data-max', (v) => v === String(MARKER_PPM));
    assert.equal(await page.evaluate('window.loadedOnce'), true, 'the same page, not a reload');
    await screenshot(page, '03-operator-live-reading');
    await page.context().close();
  });

  test('a restricted subject’s device is in no chart and no device picker', async () => {
    const page = await signIn('ops');
    const bodies: string[] = [];
    page.on('response', async (res) => {
      if (res.url().includes('/telemetry')) bodies.push(await res.text().catch(() => ''));
    });
    await page.goto(
      `${stack.apiUrl}/#/tenants/${A}/telemetry?kind=building_sensor&fields=co2_ppm&range=15m&live=0`,
    );
    await waitForAttr(page, '.chart', 'data-points', (v) => Number(v) > 0);
    const options = await Promise.all(
      (await page.locator('#devices option').all()).map((o) => o.getAttribute('value')),
    );
    assert.ok(options.includes(seen.pseudonym), 'the unrestricted sensor is offered');
    assert.ok(!options.includes(hidden.pseudonym), 'the restricted subject’s sensor is not offered');
    assert.ok(bodies.some((b) => b.includes(seen.pseudonym)));
    assert.ok(
      bodies.every((b) => !b.includes(hidden.pseudonym)),
      'no telemetry answer names it',
    );
    assert.ok(!(await page.content()).includes(hidden.pseudonym));
    await screenshot(page, '04-restricted-left-out');
    await page.context().close();
  });

  test('an operator sees fleet health, the privacy desk and the art. 30 records', async () => {
    const page = await signIn('ops');
    await page.goto(`${stack.apiUrl}/#/fleet`);
    await page.waitForSelector('#fleet-kpis .pill.ok', WAIT);
    const fleet = (await page.textContent('#page')) ?? '';
    assert.match(fleet, /Building sensors/);
    assert.match(fleet, new RegExp(B));
    assert.ok(
      !(await page.content()).includes(hidden.pseudonym),
      'the restricted subject’s sensor is in no list',
    );
    await screenshot(page, '05-operator-fleet-health');

    await page.goto(`${stack.apiUrl}/#/privacy`);
    await page.waitForSelector('#audit-status', WAIT);
    assert.match((await page.textContent('#audit-status')) ?? '', /Chain intact/);
    await screenshot(page, '06-operator-privacy-desk');

    await page.goto(`${stack.apiUrl}/#/tenants/${A}/records`);
    await page.waitForSelector('.record', WAIT);
    assert.equal(await page.locator('.record').count(), 3, 'one record per contract of the tenant');
    await screenshot(page, '07-operator-records');
    await page.context().close();
  });

  let dpo: Page;
  test('a tenant DPO sees only its tenant: another tenant’s URL shows nothing and asks nothing', async () => {
    dpo = await signIn('dpo.nordvarme');
    assert.equal(await dpo.isVisible('#tenant-picker'), false);
    assert.equal((await dpo.textContent('#tenant-badge'))?.trim(), A);
    // Its own telemetry, from the tenant API, with the restricted subject's sensor left out here too.
    // A fixed range, typed as the browser's local time (the browser runs in this process's time zone).
    const local = (ms: number) => {
      const d = new Date(ms);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    };
    const [from, to] = [local(Date.now() - 30 * 60_000), local(Date.now() + 60_000)];
    await dpo.goto(
      `${stack.apiUrl}/#/telemetry?kind=building_sensor&fields=co2_ppm&range=custom&from=${from}&to=${to}`,
    );
    await waitForAttr(dpo, '.chart', 'data-points', (v) => Number(v) > 0);
    assert.equal(await dpo.inputValue('#from'), from);
    assert.equal(await dpo.isDisabled('#live'), true, 'a fixed range is not followed live');
    const own = await Promise.all(
      (await dpo.locator('#devices option').all()).map((o) => o.getAttribute('value')),
    );
    assert.deepEqual(own.sort(), [seen.pseudonym, other.pseudonym, gone.pseudonym].sort());
    await screenshot(dpo, '08-dpo-telemetry');
    const asked: string[] = [];
    dpo.on('request', (req) => asked.push(req.url()));
    await dpo.goto(`${stack.apiUrl}/#/tenants/${B}/telemetry`);
    await dpo.waitForSelector('text=There is nothing here.', WAIT);
    assert.deepEqual(
      asked.filter((u) => u.includes(B) || new URL(u).pathname.startsWith('/v1/')),
      [],
      'no request for another tenant or the operator API',
    );
    await screenshot(dpo, '09-dpo-other-tenant');
    // Typing the operator API's address into the page's own fetch gets nothing either.
    const statuses = await dpo.evaluate(
      `Promise.all(${JSON.stringify([`/v1/tenants/${B}/devices`, '/v1/tenants', `/v1/records?tenant=${B}`])}
        .map(async (u) => (await fetch(u, { credentials: 'same-origin' })).status))`,
    );
    assert.deepEqual(statuses, [401, 401, 401]);
    // And typed into the address bar.
    const typed = await (await browser.newContext()).newPage();
    await typed.context().addCookies(await dpo.context().cookies());
    const answer = await typed.goto(`${stack.apiUrl}/v1/tenants/${B}/telemetry/devices`);
    assert.equal(answer?.status(), 401);
    assert.doesNotMatch((await answer?.text()) ?? '', /v1\./, 'no pseudonym in the answer');
    await typed.context().close();
  });

  test('the DPO files an access request, downloads the export with its receipt, and sees the request done', async () => {
    await dpo.goto(`${stack.apiUrl}/#/privacy`);
    await dpo.waitForSelector('#file-request', WAIT);
    await dpo.fill('#request-subject', 'cust-1001');
    await dpo.selectOption('#request-kind', 'access');
    await dpo.click('#file-request button[type=submit]');
    const row = await dpo.waitForSelector('#open-requests tr[data-request]', WAIT);
    const id = await row.getAttribute('data-request');
    assert.ok(id);
    await screenshot(dpo, '10-dpo-request-filed');

    await dpo.click(`button[data-action="export"][data-request="${id}"]`);
    const [download] = await Promise.all([
      dpo.waitForEvent('download', WAIT),
      dpo.click('form[data-form="export"] button[type=submit]'),
    ]);
    const file = join(ARTIFACTS, 'export.json');
    await download.saveAs(file);
    const text = readFileSync(file, 'utf8');
    const exported = JSON.parse(text) as {
      request: { id: string; kind: string };
      subject: { ref: string };
      summary: { points: number };
    };
    assert.deepEqual(exported.request, { id, kind: 'access' });
    assert.equal(exported.subject.ref, 'cust-1001');
    assert.ok(exported.summary.points >= 1, 'with the subject’s readings');
    assert.ok(text.includes(seen.pseudonym), 'with the subject’s sensor');
    assert.ok(!text.includes(hidden.pseudonym), 'and nothing of another subject');

    const closed = `tr.closed-request:has-text("${id.slice(0, 8)}")`;
    await dpo.waitForSelector(closed, WAIT);
    assert.match((await dpo.textContent(closed)) ?? '', /completed/);
    assert.equal(await dpo.locator(`#open-requests tr[data-request="${id}"]`).count(), 0);
    const stored = await callAs(stack, operator(stack), 'GET', `/v1/requests?tenant=${A}`);
    const request = stored.json<Array<{ id: string; status: string }>>().find((r) => r.id === id);
    assert.equal(request?.status, 'completed');
    await screenshot(dpo, '11-dpo-export-done');
  });

  test('the DPO extends a request with the reason the subject is told, then completes it by hand', async () => {
    await dpo.fill('#request-subject', 'cust-1001');
    await dpo.selectOption('#request-kind', 'rectification');
    await dpo.click('#file-request button[type=submit]');
    const row = await dpo.waitForSelector('#open-requests tr[data-request]', WAIT);
    const id = (await row.getAttribute('data-request')) ?? '';
    const request = async () =>
      (await callAs(stack, operator(stack), 'GET', `/v1/requests?tenant=${A}`))
        .json<
          Array<{
            id: string;
            status: string;
            dueAt: string;
            extensionReason: string | null;
            outcome: { outcome?: string; by: string } | null;
          }>
        >()
        .find((r) => r.id === id);
    const filed = await request();

    await dpo.click(`button[data-action="extend"][data-request="${id}"]`);
    await dpo.selectOption('form[data-form="extend"] select[name="months"]', '2');
    await dpo.fill('form[data-form="extend"] input[name="reason"]', 'the meter data must be read on site');
    await dpo.click('form[data-form="extend"] button[type=submit]');
    await dpo.waitForSelector(`#open-requests tr[data-request="${id}"] >> text=extended`, WAIT);
    const extended = await request();
    assert.equal(extended?.status, 'extended');
    assert.equal(extended?.extensionReason, 'the meter data must be read on site');
    assert.ok(Date.parse(extended?.dueAt ?? '') > Date.parse(filed?.dueAt ?? ''), 'due later');
    assert.equal(
      await dpo.locator(`button[data-action="extend"][data-request="${id}"]`).count(),
      0,
      'once only',
    );
    await screenshot(dpo, '12-dpo-request-extended');

    await dpo.click(`button[data-action="complete"][data-request="${id}"]`);
    await dpo.fill('form[data-form="complete"] input[name="outcome"]', 'address corrected by letter');
    await dpo.click('form[data-form="complete"] button[type=submit]');
    await dpo.waitForSelector(`tr.closed-request:has-text("${id.slice(0, 8)}")`, WAIT);
    assert.equal(await dpo.locator(`#open-requests tr[data-request="${id}"]`).count(), 0);
    const completed = await request();
    assert.equal(completed?.status, 'completed');
    assert.deepEqual(
      { outcome: completed?.outcome?.outcome, by: completed?.outcome?.by },
      { outcome: 'address corrected by letter', by: `tenant:${A}/user:dpo.nordvarme` },
    );
  });

  test('the DPO carries out an erasure request from the desk: the readings are gone, the receipt downloaded', async () => {
    await dpo.fill('#request-subject', 'cust-3003');
    await dpo.selectOption('#request-kind', 'erasure');
    await dpo.click('#file-request button[type=submit]');
    const row = await dpo.waitForSelector('#open-requests tr[data-request]', WAIT);
    const id = (await row.getAttribute('data-request')) ?? '';
    await dpo.click(`button[data-action="carry-out"][data-request="${id}"]`);
    assert.equal(await dpo.inputValue('form[data-form="carry-out"] input[name="subjectRef"]'), 'cust-3003');
    await screenshot(dpo, '13-dpo-erasure');
    const [download] = await Promise.all([
      dpo.waitForEvent('download', WAIT),
      dpo.click('form[data-form="carry-out"] button[type=submit]'),
    ]);
    const file = join(ARTIFACTS, 'erasure-receipt.json');
    await download.saveAs(file);
    const receipt = JSON.parse(readFileSync(file, 'utf8')) as {
      request: string;
      deleted: { devices: string[]; before: { points: number }; after: { points: number } };
    };
    assert.equal(receipt.request, id);
    assert.deepEqual(receipt.deleted.devices, [gone.id]);
    assert.equal(receipt.deleted.before.points, 30);
    assert.equal(receipt.deleted.after.points, 0);
    await dpo.waitForSelector(`tr.closed-request:has-text("${id.slice(0, 8)}")`, WAIT);
    assert.match((await dpo.textContent('#flash')) ?? '', /Erased 30 readings of 1 device/);
    const count = async (d: TestDevice) =>
      (
        await stack.skjold.store.query(
          A,
          `SELECT count(seq) FROM building_sensor WHERE device = '${d.pseudonym}'`,
        )
      )[0]?.series?.[0]?.values[0]?.[1];
    assert.equal(await count(gone), undefined, 'no reading of the erased subject’s sensor is left');
    assert.ok(Number(await count(other)) >= 30, 'another subject’s readings stay');
    await screenshot(dpo, '14-dpo-erased');
  });

  test('only the tenant admin takes all of the tenant’s data back, from the privacy desk', async () => {
    assert.equal(await dpo.locator('button[data-action="tenant-export"]').count(), 0, 'not the DPO');
    const admin = await signIn('admin.nordvarme');
    await admin.goto(`${stack.apiUrl}/#/privacy`);
    const [download] = await Promise.all([
      admin.waitForEvent('download', WAIT),
      admin.click('button[data-action="tenant-export"][data-format="json"]'),
    ]);
    const file = join(ARTIFACTS, 'tenant-export.json');
    await download.saveAs(file);
    const text = readFileSync(file, 'utf8');
    // Art. 28(3)(g): the controller's own copy, its restricted subject included.
    for (const d of [seen, other, hidden]) assert.ok(text.includes(d.pseudonym), d.pseudonym);
    assert.ok(!text.includes(B), 'nothing of another tenant');
    await screenshot(admin, '15-admin-tenant-export');
    await admin.context().close();
  });

  test('signing out ends the session: the old cookie opens nothing, the back button shows nothing', async () => {
    const cookie = await sessionCookie(dpo);
    assert.ok(cookie);
    const before = await fetch(`${stack.apiUrl}/tenant/v1/requests`, {
      headers: { cookie: `skjold_session=${cookie}` },
    });
    assert.equal(before.status, 200);

    await dpo.click('#logout');
    await dpo.waitForURL((url) => url.pathname === '/login', WAIT);
    assert.equal(await dpo.isVisible('#login-note'), true, 'the sign-in page says so');
    await screenshot(dpo, '16-signed-out');
    const afterwards = await fetch(`${stack.apiUrl}/tenant/v1/requests`, {
      headers: { cookie: `skjold_session=${cookie}` },
    });
    assert.equal(afterwards.status, 401);
    const page = await fetch(`${stack.apiUrl}/`, {
      headers: { cookie: `skjold_session=${cookie}`, accept: 'text/html' },
      redirect: 'manual',
    });
    assert.equal(page.status, 302);

    await dpo.goBack();
    await dpo.waitForLoadState('load');
    assert.equal(new URL(dpo.url()).pathname, '/login');
    assert.equal(await dpo.locator('#shell:not([hidden])').count(), 0);
    assert.equal(await dpo.locator('#open-requests').count(), 0);
    await screenshot(dpo, '17-back-after-sign-out');
    await dpo.context().close();
  });
});
