/**
 * The console in a real browser (Debian's Chromium) against a whole Skjold
 * with a real influxd, as a tenant's DPO and admin: only their own tenant,
 * filing, extending, completing and carrying out subjects' requests, exports
 * with their receipts, and signing out for good. Every step leaves a
 * screenshot in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { ARTIFACTS, type Page, screenshot } from '../harness/browser.ts';
import { callAs, issueToken, operator } from '../harness/tenant-api.ts';
import {
  A,
  B,
  type ConsoleWorld,
  downloadBy,
  sessionCookie,
  startConsoleWorld,
  WAIT,
  waitForAttr,
  waitVisible,
} from './console-world.ts';
import type { TestDevice } from './devices.ts';

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
});
after(() => w?.stop());
afterEach(() => assert.deepEqual(w.takeErrors(), [], 'the console raised no script error'));

describe('console: a tenant’s DPO and admin', () => {
  let dpo: Page;
  test('a tenant DPO sees only its tenant: another tenant’s URL shows nothing and asks nothing', async () => {
    dpo = await w.signIn('dpo.nordvarme');
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
      `${w.stack.apiUrl}/#/telemetry?kind=building_sensor&fields=co2_ppm&range=custom&from=${from}&to=${to}`,
    );
    await waitForAttr(dpo, '.chart', 'data-points', (v) => Number(v) > 0);
    assert.equal(await dpo.inputValue('#from'), from);
    assert.equal(await dpo.isDisabled('#live'), true, 'a fixed range is not followed live');
    const own = await Promise.all(
      (await dpo.locator('#devices option').all()).map((o) => o.getAttribute('value')),
    );
    assert.deepEqual(own.sort(), [w.seen.pseudonym, w.other.pseudonym, w.gone.pseudonym].sort());
    await screenshot(dpo, '08-dpo-telemetry');
    // Its own fleet: no other tenant, no spool internals.
    await dpo.goto(`${w.stack.apiUrl}/#/fleet`);
    await waitVisible(dpo, '#fleet-kpis .pill.ok');
    const fleet = (await dpo.textContent('#page')) ?? '';
    assert.match(fleet, /Building sensors/);
    assert.doesNotMatch(fleet, new RegExp(`${B}|Spool backlog`));
    await screenshot(dpo, '08-dpo-fleet-health');
    const asked: string[] = [];
    dpo.on('request', (req) => asked.push(req.url()));
    await dpo.goto(`${w.stack.apiUrl}/#/tenants/${B}/telemetry`);
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
    // Nor the status page, which lists every tenant.
    assert.equal(await dpo.evaluate(`fetch('/status').then((r) => r.status)`), 401);
    // And typed into the address bar.
    const typed = await (await w.browser.newContext()).newPage();
    await typed.context().addCookies(await dpo.context().cookies());
    const answer = await typed.goto(`${w.stack.apiUrl}/v1/tenants/${B}/telemetry/devices`);
    assert.equal(answer?.status(), 401);
    assert.doesNotMatch((await answer?.text()) ?? '', /v1\./, 'no pseudonym in the answer');
    await typed.context().close();
  });

  test('an overdue request is at the top of the desk, in red, with its days overdue', async () => {
    const token = (await issueToken(w.stack, A, ['requests'])).token;
    const api = (method: string, path: string, body?: unknown) => callAs(w.stack, token, method, path, body);
    // Received 40 days ago (art. 12(3): one month), and one received today.
    const late = await api('POST', '/tenant/v1/requests', {
      subjectRef: 'cust-1001',
      kind: 'rectification',
      receivedAt: new Date(Date.now() - 40 * 86_400_000).toISOString(),
    });
    const fresh = await api('POST', '/tenant/v1/requests', { subjectRef: 'cust-1001', kind: 'objection' });
    assert.equal(late.status, 201, late.body);
    const [lateId, freshId] = [late.json<{ id: string }>().id, fresh.json<{ id: string }>().id];
    await dpo.goto(`${w.stack.apiUrl}/#/privacy`);
    await dpo.waitForSelector(`#open-requests tr[data-request="${freshId}"]`, WAIT);
    const rows = await Promise.all(
      (await dpo.locator('#open-requests tr[data-request]').all()).map((r) => r.getAttribute('data-request')),
    );
    assert.deepEqual(rows, [lateId, freshId], 'overdue first');
    const lateRow = dpo.locator(`#open-requests tr[data-request="${lateId}"]`);
    assert.equal(await lateRow.getAttribute('class'), 'overdue');
    assert.match((await lateRow.textContent()) ?? '', /\d+ days overdue/);
    await screenshot(dpo, '09-dpo-overdue-first');
    // Answered by other means, so the next steps start from an empty desk.
    for (const id of [lateId, freshId])
      assert.equal((await api('POST', `/tenant/v1/requests/${id}/complete`, {})).status, 200);
    await dpo.reload();
    await dpo.waitForSelector('#open-requests-empty, #open-requests', WAIT);
    assert.equal(await dpo.locator('#open-requests tr[data-request]').count(), 0);
  });

  test('the DPO files an access request, downloads the export with its receipt, and sees the request done', async () => {
    await dpo.goto(`${w.stack.apiUrl}/#/privacy`);
    await dpo.waitForSelector('#file-request', WAIT);
    await dpo.fill('#request-subject', 'cust-1001');
    await dpo.selectOption('#request-kind', 'access');
    await dpo.click('#file-request button[type=submit]');
    const row = await dpo.waitForSelector('#open-requests tr[data-request]', WAIT);
    const id = await row.getAttribute('data-request');
    assert.ok(id);
    await screenshot(dpo, '10-dpo-request-filed');

    await dpo.click(`button[data-action="export"][data-request="${id}"]`);
    const download = await downloadBy(dpo, 'form[data-form="export"] button[type=submit]');
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
    assert.ok(text.includes(w.seen.pseudonym), 'with the subject’s sensor');
    assert.ok(!text.includes(w.hidden.pseudonym), 'and nothing of another subject');

    const closed = `tr.closed-request:has-text("${id.slice(0, 8)}")`;
    await dpo.waitForSelector(closed, WAIT);
    assert.match((await dpo.textContent(closed)) ?? '', /completed/);
    assert.equal(await dpo.locator(`#open-requests tr[data-request="${id}"]`).count(), 0);
    const stored = await callAs(w.stack, operator(w.stack), 'GET', `/v1/requests?tenant=${A}`);
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
      (await callAs(w.stack, operator(w.stack), 'GET', `/v1/requests?tenant=${A}`))
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
    const download = await downloadBy(dpo, 'form[data-form="carry-out"] button[type=submit]');
    const file = join(ARTIFACTS, 'erasure-receipt.json');
    await download.saveAs(file);
    const receipt = JSON.parse(readFileSync(file, 'utf8')) as {
      request: string;
      deleted: { devices: string[]; before: { points: number }; after: { points: number } };
    };
    assert.equal(receipt.request, id);
    assert.deepEqual(receipt.deleted.devices, [w.gone.id]);
    assert.equal(receipt.deleted.before.points, 30);
    assert.equal(receipt.deleted.after.points, 0);
    await dpo.waitForSelector(`tr.closed-request:has-text("${id.slice(0, 8)}")`, WAIT);
    assert.match((await dpo.textContent('#flash')) ?? '', /Erased 30 readings of 1 device; nothing kept/);
    const count = async (d: TestDevice) =>
      (
        await w.stack.skjold.store.query(
          A,
          `SELECT count(seq) FROM building_sensor WHERE device = '${d.pseudonym}'`,
        )
      )[0]?.series?.[0]?.values[0]?.[1];
    assert.equal(await count(w.gone), undefined, 'no reading of the erased subject’s sensor is left');
    assert.ok(Number(await count(w.other)) >= 30, 'another subject’s readings stay');
    await screenshot(dpo, '14-dpo-erased');
  });

  test('only the tenant admin takes all of the tenant’s data back, from the privacy desk', async () => {
    assert.equal(await dpo.locator('button[data-action="tenant-export"]').count(), 0, 'not the DPO');
    const admin = await w.signIn('admin.nordvarme');
    await admin.goto(`${w.stack.apiUrl}/#/privacy`);
    const download = await downloadBy(admin, 'button[data-action="tenant-export"][data-format="json"]');
    const file = join(ARTIFACTS, 'tenant-export.json');
    await download.saveAs(file);
    const text = readFileSync(file, 'utf8');
    // Art. 28(3)(g): the controller's own copy, its restricted subject included.
    for (const d of [w.seen, w.other, w.hidden]) assert.ok(text.includes(d.pseudonym), d.pseudonym);
    assert.ok(!text.includes(B), 'nothing of another tenant');
    await screenshot(admin, '15-admin-tenant-export');
    await admin.context().close();
  });

  test('signing out ends the session: the old cookie opens nothing, the back button shows nothing', async () => {
    const cookie = await sessionCookie(dpo);
    assert.ok(cookie);
    const before = await fetch(`${w.stack.apiUrl}/tenant/v1/requests`, {
      headers: { cookie: `skjold_session=${cookie}` },
    });
    assert.equal(before.status, 200);

    await dpo.click('#logout');
    await dpo.waitForURL((url) => url.pathname === '/login', WAIT);
    assert.equal(await dpo.isVisible('#login-note'), true, 'the sign-in page says so');
    await screenshot(dpo, '16-signed-out');
    const afterwards = await fetch(`${w.stack.apiUrl}/tenant/v1/requests`, {
      headers: { cookie: `skjold_session=${cookie}` },
    });
    assert.equal(afterwards.status, 401);
    const page = await fetch(`${w.stack.apiUrl}/`, {
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
