import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { isSkjoldError } from '../lib/errors.ts';
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

// Recognisable text in every place a malformed value can carry it.
const SECRET = 'Sup3rSecretKeyMaterialXYZ';
const KEY = randomBytes(32).toString('base64');
const MALFORMED = [
  `{"format":1,"tenants":{"acme":{"current":1,"keys":{"1":"${SECRET}"`, // JSON cut short
  `{"format":1,"tenants":{},"${SECRET}":1}`, // unknown top-level key
  `{"format":1,"tenants":{"a!${SECRET}":{"current":1,"keys":{"1":"${KEY}"}}}}`, // tenant id out of pattern
  `{"format":1,"tenants":{"acme":{"current":1,"keys":{"${SECRET}":"${KEY}"}}}}`, // version out of pattern
  `{"format":1,"tenants":{"acme":{"current":1,"keys":{"1":"${SECRET}"}}}}`, // not 32 bytes
  `{"format":1,"tenants":{"acme":{"current":1,"keys":{"1":"${KEY}"},"${SECRET}":2}}}`, // unknown tenant key
  `{"format":1,"tenants":{"acme":{"current":1,"keys":{"1":"${KEY}"},"created":{"1":"${SECRET}"}}}}`, // bad date
  `{"format":"${SECRET}","tenants":{}}`, // wrong format
  `${SECRET}{`, // neither JSON nor base64 of it
];

test('a malformed SKJOLD_KEYS is refused without quoting any of it in message, cause or stack', async () => {
  for (const json of MALFORMED) {
    for (const value of [json, Buffer.from(json).toString('base64')]) {
      for (const read of [() => openKeyStore({ envValue: value }), () => withTenantKeys(value, ['acme'])]) {
        const err = await read().then(
          () => assert.fail(`accepted: ${json}`),
          (e: unknown) => e,
        );
        assert.ok(isSkjoldError(err, 'SKJOLD_ERR_KEYS'), `refused as SKJOLD_ERR_KEYS: ${inspect(err)}`);
        // inspect shows the message, the stack and every cause in the chain.
        const shown = `${inspect(err, { depth: 20, showHidden: true })}\n${JSON.stringify(err)}`;
        assert.ok(!shown.includes(SECRET), `${json} quoted in:\n${shown}`);
        assert.ok(!shown.includes(value.slice(0, 16)), 'nor the value as given');
      }
    }
  }
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
