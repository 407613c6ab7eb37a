import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOGIN_DOMAIN } from '../registry/enrolment.ts';
import { withTenantKeys } from './env-keys.ts';
import { AUDIT_DOMAIN, openKeyStore } from './keystore.ts';

test('withTenantKeys adds first keys for new tenants and keeps the ones there', async () => {
  const first = await withTenantKeys('', ['nordvarme']);
  const before = await openKeyStore({ envValue: first });
  const second = await withTenantKeys(first, ['nordvarme', 'fjordnet']);
  const after = await openKeyStore({ envValue: second });
  assert.deepEqual(
    Object.keys(after.toJSON().tenants).sort(),
    [LOGIN_DOMAIN, AUDIT_DOMAIN, 'fjordnet', 'nordvarme'].sort(),
  );
  assert.deepEqual(after.secret('nordvarme', 1), before.secret('nordvarme', 1));
  assert.deepEqual(after.secret(LOGIN_DOMAIN, 1), before.secret(LOGIN_DOMAIN, 1));
  assert.ok(after.readOnly);
});

test('withTenantKeys writes down the audit key a value without one derived, so the audit chain still verifies', async () => {
  const value = await withTenantKeys('', ['nordvarme']);
  const file = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  const stored = file.tenants[AUDIT_DOMAIN].keys['1'];
  delete file.tenants[AUDIT_DOMAIN];
  const older = JSON.stringify(file); // as a value made before the audit key existed
  const derived = await (await openKeyStore({ envValue: older })).auditKey();
  assert.notEqual(derived.toString('base64'), stored);
  const added = await withTenantKeys(older, ['fjordnet']);
  const after = await openKeyStore({ envValue: added });
  assert.deepEqual(await after.auditKey(), derived);
  assert.deepEqual(after.secret(AUDIT_DOMAIN, 1), derived);
});
