/**
 * What the console's browser tests share: a whole Skjold with a real influxd,
 * two tenants, building sensors with a quarter of an hour of readings (one of
 * them a restricted subject's, one a subject the DPO erases), the console's
 * users, and Debian's Chromium signed in as one of them.
 */
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { type Browser, launchBrowser, type Page, screenshot } from '../harness/browser.ts';
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

export const A = 'nordvarme';
export const B = 'sverige-iot';
export const PASSWORD = 'correct horse battery staple';
export const WAIT = { timeout: 30_000 };

export interface ConsoleWorld {
  stack: Stack;
  browser: Browser;
  /** The tenant's sensors: a subject's, a restricted subject's, an unlinked one, and one the DPO erases. */
  seen: TestDevice;
  hidden: TestDevice;
  other: TestDevice;
  gone: TestDevice;
  /** Publishes a reading of `device` now (or at `time`), with `co2` as its CO₂ value when given. */
  publish(device: TestDevice, co2?: number, time?: number): Promise<void>;
  /** A fresh browser context (British English), signed in through the sign-in page. */
  signIn(username: string): Promise<Page>;
  /** A page whose script errors and CSP violations are collected. */
  watch(page: Page): Page;
  /** Uncaught script errors and CSP violations seen so far; taken (emptied) by each test's check. */
  takeErrors(): string[];
  stop(): Promise<void>;
}

/** Waits until `attr` of the first `selector` in the page satisfies `ok`; a screenshot if it never does. */
export async function waitForAttr(
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

/** Waits for `selector` to be visible; a screenshot and the page's text in the error if it never is. */
export async function waitVisible(page: Page, selector: string) {
  try {
    await page.waitForSelector(selector, WAIT);
  } catch (err) {
    return timedOut(page, `failed-${slug(selector)}`, `${selector} not visible`, err);
  }
}

/**
 * Clicks `selector` and waits for the download it starts; if none comes, the
 * error has a screenshot and the page's text (a failed action says why in its flash).
 */
export async function downloadBy(page: Page, selector: string) {
  await waitVisible(page, selector);
  try {
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.click(selector)]);
    return download;
  } catch (err) {
    return timedOut(page, `failed-download-${slug(selector)}`, `no download from ${selector}`, err);
  }
}

const slug = (selector: string) => selector.replace(/[^a-z0-9]+/gi, '-');

/** A wait that ran out: a screenshot named `shot`, and an error quoting what the page said. */
async function timedOut(page: Page, shot: string, what: string, cause: unknown): Promise<never> {
  await screenshot(page, shot);
  const text = (await page.textContent('body').catch(() => null))?.replace(/\s+/g, ' ').slice(0, 2000);
  throw new Error(`${what} within ${WAIT.timeout} ms; the page said: ${text}`, { cause });
}

export const sessionCookie = async (page: Page) =>
  (await page.context().cookies()).find((c) => c.name === 'skjold_session')?.value;

export async function startConsoleWorld(): Promise<ConsoleWorld> {
  // Every signed-out probe counts as a failed authentication; these tests make more than the default allows a minute.
  const stack = await startStack({ SKJOLD_API_AUTH_FAILURES: 1000 });
  const browser = await launchBrowser();
  const fleetA = await addTenantFleet(stack.api, A, 2, ['building_sensor']);
  await addTenantFleet(stack.api, B, 1, ['building_sensor']);
  const [seen, other] = [fleetA[0]!, fleetA[1]!];
  const hidden = await addDevice(stack.api, identifierSource(`${A}-restricted`), A, 'building_sensor');
  const gone = await addDevice(stack.api, identifierSource(`${A}-erased`), A, 'building_sensor');
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

  const clients = new Map<TestDevice, MqttClient>();
  for (const device of [seen, hidden, other, gone])
    clients.set(device, await connectDevice(stack.mqttUrl, device));
  let seq = 0;
  const publish = async (device: TestDevice, co2?: number, time?: number) => {
    const reading = validReading(device, ++seq, time);
    const body = co2 === undefined ? reading : { ...reading, co2_ppm: co2 };
    await publishAcked(clients.get(device)!, device.telemetry, JSON.stringify(body));
  };
  // A quarter of an hour of history, a reading every 30 s, so the charts have lines before anything arrives live.
  for (let ago = 29; ago >= 0; ago--)
    for (const device of [seen, hidden, other, gone])
      await publish(device, undefined, Date.now() - ago * 30_000);
  await stack.settled();

  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('pageerror', (err) => errors.push(err.message));
    // The pages' Content-Security-Policy must not have to block anything the console itself does.
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) errors.push(msg.text());
    });
    return page;
  };

  return {
    stack,
    browser,
    seen,
    hidden,
    other,
    gone,
    publish,
    watch,
    takeErrors: () => errors.splice(0),
    async signIn(username) {
      // Our users read English in Denmark and Sweden: a British English browser, not an American one.
      const context = await browser.newContext({
        viewport: { width: 1440, height: 900 },
        locale: 'en-GB',
        acceptDownloads: true,
      });
      const page = watch(await context.newPage());
      await page.goto(`${stack.apiUrl}/login`);
      await page.fill('#username', username);
      await page.fill('#password', PASSWORD);
      await page.click('#login-form button[type=submit]');
      await page.waitForURL((url) => url.pathname === '/', WAIT);
      await page.waitForSelector('#shell:not([hidden])', WAIT);
      return page;
    },
    async stop() {
      await endAll(clients.values());
      await browser.close();
      await stack.stop();
    },
  };
}
