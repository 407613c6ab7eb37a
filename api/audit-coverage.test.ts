import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Stack, startStack } from '../test/harness/stack.ts';

/**
 * Art. 5(2): every change to the registry, made over the real HTTP API,
 * leaves an audit entry with its action, and no entry holds a raw identifier
 * or a secret. The identifiers, secrets and free text used here are searched
 * for in the whole audit log afterwards.
 */

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.stop());

const TENANT = 'hovedstad-varme';
const ICCID = '8946071234567890129';
const IMSI = '238011234567890';
const MSISDN = '+46701234567';
const WMBUS = 'KAM99887766';
const WMBUS_IMPORTED = 'KAM55443322';
const SERIAL = 'BS-FLOOR-0042';
const DEVICE_SECRET = 'device-secret-never-audited-1234';
const IMPORT_SECRET = 'imported-secret-never-audited-5678';
const DASHBOARD_PASSWORD = 'dashboard-password-never-audited';
const SUBJECT_REF = 'customer-4711-jensen';
const OTHER_SUBJECT_REF = 'customer-4712-hansen';
const PURPOSE = 'billing of heat to Fru Jensen';
const HOLD_REASON = 'dispute with customer Jensen';
const TOKEN_LABEL = 'token for Jensen case';

async function http(
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string; csv?: boolean } = {},
): Promise<{ status: number; json: () => Record<string, unknown>; text: string }> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.token ?? stack.config.SKJOLD_OPERATOR_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': options.csv ? 'text/csv' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: options.csv ? String(body) : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

async function expectStatus(
  status: number,
  ...args: Parameters<typeof http>
): Promise<Record<string, unknown>> {
  const res = await http(...args);
  assert.equal(res.status, status, `${args[0]} ${args[1]}: ${res.text}`);
  return res.status === 204 ? {} : res.json();
}

test('every registry-changing API call is audited, and no audit entry holds a raw identifier or a secret', async () => {
  const secrets: string[] = [
    DEVICE_SECRET,
    IMPORT_SECRET,
    DASHBOARD_PASSWORD,
    stack.config.SKJOLD_OPERATOR_TOKEN ?? '',
  ];
  const expected: { action: string; target?: string }[] = [];
  const did = (action: string, target?: string) => expected.push({ action, ...(target ? { target } : {}) });

  await expectStatus(201, 'POST', '/v1/tenants', { id: TENANT, name: 'Hovedstadens Varme' });
  did('tenant.create', TENANT);

  await expectStatus(201, 'POST', `/v1/tenants/${TENANT}/contracts`, {
    id: 'heat-2026',
    role: 'processor',
    purpose: PURPOSE,
    legalBasis: 'contract',
    startsOn: '2026-01-01',
    jurisdiction: 'DK',
  });
  did('contract.create', 'heat-2026');

  const meter = await expectStatus(201, 'POST', `/v1/tenants/${TENANT}/devices`, {
    kind: 'heat_meter',
    contractId: 'heat-2026',
    identifiers: { wmbus: WMBUS },
    secret: DEVICE_SECRET,
  });
  did('device.register', String(meter.id));
  const sim = await expectStatus(201, 'POST', `/v1/tenants/${TENANT}/devices`, {
    kind: 'sim_unit',
    contractId: 'heat-2026',
    identifiers: { iccid: ICCID, imsi: IMSI, msisdn: MSISDN },
  });
  secrets.push(String(sim.secret));
  did('device.register', String(sim.id));

  const imported = await expectStatus(
    200,
    'POST',
    `/v1/tenants/${TENANT}/devices/import`,
    `kind,contract,wmbus,serial,secret\nheat_meter,heat-2026,${WMBUS_IMPORTED},,${IMPORT_SECRET}\nbuilding_sensor,heat-2026,,${SERIAL},\n`,
    { csv: true },
  );
  const importedDevices = imported.results as { id: string; secret: string }[];
  assert.equal(imported.imported, 2);
  for (const d of importedDevices) {
    secrets.push(d.secret);
    did('device.register', d.id);
  }
  did('devices.import');

  await expectStatus(204, 'PUT', `/v1/tenants/${TENANT}/subjects/${SUBJECT_REF}/devices`, {
    deviceId: meter.id,
  });
  did('subject.link');

  await expectStatus(200, 'PUT', `/v1/tenants/${TENANT}/dashboard-credential`, {
    username: 'hovedstad_reader',
    password: DASHBOARD_PASSWORD,
  });
  did('dashboard.credential', 'hovedstad_reader');

  await expectStatus(200, 'POST', `/v1/tenants/${TENANT}/keys/rotate`);
  did('keys.rotate');

  const token = await expectStatus(201, 'POST', `/v1/tenants/${TENANT}/tokens`, {
    scopes: ['subjects:write'],
    label: TOKEN_LABEL,
  });
  secrets.push(String(token.token));
  did('token.issue', String(token.id));

  // The tenant's own link, by identifiers, with its own token.
  await expectStatus(
    200,
    'PUT',
    `/tenant/v1/subjects/${OTHER_SUBJECT_REF}/devices`,
    { identifiers: { iccid: ICCID } },
    { token: String(token.token) },
  );
  did('subject.link');

  const spare = await expectStatus(201, 'POST', `/v1/tenants/${TENANT}/tokens`, { scopes: ['requests'] });
  secrets.push(String(spare.token));
  did('token.issue', String(spare.id));
  await expectStatus(204, 'DELETE', `/v1/tenants/${TENANT}/tokens/${spare.id}`);
  did('token.revoke', String(spare.id));

  await expectStatus(200, 'PUT', `/v1/tenants/${TENANT}/contracts/heat-2026/retention`, {
    telemetryAction: 'anonymise',
  });
  did('retention.policy', 'heat-2026');
  await expectStatus(200, 'PUT', `/v1/tenants/${TENANT}/contracts/heat-2026/end`, { endsOn: '2026-12-31' });
  did('contract.end', 'heat-2026');

  const hold = await expectStatus(201, 'POST', `/v1/tenants/${TENANT}/holds`, {
    scope: 'subject',
    target: SUBJECT_REF,
    reason: HOLD_REASON,
  });
  did('hold.create', String(hold.id));
  await expectStatus(200, 'POST', `/v1/tenants/${TENANT}/holds/${hold.id}/release`);
  did('hold.release', String(hold.id));

  const entries = (await expectStatus(200, 'GET', `/v1/audit?tenant=${TENANT}&limit=1000`)) as unknown as {
    action: string;
    target: string | null;
    actor: string;
  }[];
  // Each call above has its own entry, in the order made.
  let from = 0;
  for (const want of expected) {
    const at = entries.findIndex(
      (e, i) =>
        i >= from && e.action === want.action && (want.target === undefined || e.target === want.target),
    );
    assert.ok(at >= 0, `no audit entry ${JSON.stringify(want)} after entry ${from}`);
    from = at + 1;
  }
  const tenantLink = entries.filter((e) => e.action === 'subject.link').map((e) => e.actor);
  assert.deepEqual(tenantLink, ['operator', `tenant:${TENANT}/${token.id}`]);

  // Not a raw identifier (in any of its written forms), a secret, a subject's reference or free text.
  const whole = JSON.stringify(await expectStatus(200, 'GET', '/v1/audit?limit=1000'));
  const forbidden = [
    ICCID,
    IMSI,
    MSISDN,
    MSISDN.slice(1),
    WMBUS,
    WMBUS_IMPORTED,
    SERIAL,
    SUBJECT_REF,
    OTHER_SUBJECT_REF,
    PURPOSE,
    HOLD_REASON,
    TOKEN_LABEL,
    ...secrets,
  ];
  for (const value of forbidden) {
    assert.ok(value.length >= 8, `${value} is a real value to look for`);
    assert.ok(!whole.includes(value), `the audit log holds ${value}`);
    assert.ok(
      !whole.toLowerCase().includes(value.toLowerCase()),
      `the audit log holds ${value} in some case`,
    );
  }

  const verified = await expectStatus(200, 'GET', '/v1/audit/verify');
  assert.equal(verified.ok, true);
});
