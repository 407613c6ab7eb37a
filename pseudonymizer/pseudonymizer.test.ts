import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { isSkjoldError } from '../lib/errors.ts';
import { luhnCheckDigit } from './identifiers.ts';
import { openKeyStore } from './keystore.ts';
import { base32, createPseudonymizer } from './pseudonymizer.ts';

// Fixed secrets so expected pseudonyms can be computed independently.
const secret = (fill: number) => Buffer.alloc(32, fill);
const keyStore = await openKeyStore({
  envValue: JSON.stringify({
    format: 1,
    tenants: {
      'tenant-a': { current: 2, keys: { 1: secret(1).toString('base64'), 2: secret(2).toString('base64') } },
      'tenant-b': { current: 1, keys: { 1: secret(3).toString('base64') } },
    },
  }),
});
const pz = createPseudonymizer(keyStore);
const PSEUDONYM = /^v\d+\.[a-z2-7]{26}$/;
const digits = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
const imeiArb = digits(14).map((d) => `35${d.slice(2)}${luhnCheckDigit(`35${d.slice(2)}`)}`);

test('base32 is RFC 4648, lowercase and unpadded', () => {
  const vectors: Array<[string, string]> = [
    ['', ''],
    ['f', 'my'],
    ['fo', 'mzxq'],
    ['foo', 'mzxw6'],
    ['foob', 'mzxw6yq'],
    ['fooba', 'mzxw6ytb'],
    ['foobar', 'mzxw6ytboi'],
  ];
  for (const [input, output] of vectors) assert.equal(base32(Buffer.from(input)), output);
});

test('pseudonym = v<version>.base32(HMAC-SHA-256(secret, "type:canonical value")[0..16])', () => {
  const mac = createHmac('sha256', secret(2)).update('msisdn:+4520123456').digest();
  const expected = `v2.${base32(mac.subarray(0, 16))}`;
  assert.equal(pz.pseudonym('tenant-a', 'msisdn', '+45 20 12 34 56'), expected);
  assert.equal(pz.pseudonym('tenant-a', 'msisdn', '+4520123456'), expected);
  assert.equal(pz.pseudonym('tenant-a', 'msisdn', '4520123456', 2), expected);
  assert.match(expected, PSEUDONYM);
  assert.equal(expected.length, 29);
});

test('property: stable per tenant and version; different across tenants, versions and types', () => {
  fc.assert(
    fc.property(imeiArb, (imei) => {
      const a2 = pz.pseudonym('tenant-a', 'imei', imei);
      assert.match(a2, PSEUDONYM);
      assert.equal(pz.pseudonym('tenant-a', 'imei', imei), a2);
      assert.equal(pz.pseudonym('tenant-a', 'imei', imei, 2), a2);
      assert.ok(a2.startsWith('v2.'));
      const a1 = pz.pseudonym('tenant-a', 'imei', imei, 1);
      const b1 = pz.pseudonym('tenant-b', 'imei', imei);
      assert.notEqual(a1.slice(3), a2.slice(3));
      assert.notEqual(a1, b1); // same version number, different tenant secret
      assert.notEqual(pz.pseudonym('tenant-a', 'number', imei), a2);
    }),
    { numRuns: 200 },
  );
});

test('allVersions gives the pseudonym under every key version the tenant holds', () => {
  const all = pz.allVersions('tenant-a', 'wmbus', 'kam 12345678');
  assert.deepEqual(
    all.map((a) => a.version),
    [1, 2],
  );
  for (const { version, pseudonym } of all) {
    assert.equal(pseudonym, pz.pseudonym('tenant-a', 'wmbus', 'KAM12345678', version));
  }
  assert.equal(pz.currentVersion('tenant-a'), 2);
});

test('invalid values throw (or give undefined from tryPseudonym); key problems always throw', () => {
  const bad = '490154203237519';
  assert.throws(
    () => pz.pseudonym('tenant-a', 'imei', bad),
    (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_IDENTIFIER_INVALID') && !err.message.includes(bad),
  );
  assert.equal(pz.tryPseudonym('tenant-a', 'imei', bad), undefined);
  assert.match(pz.tryPseudonym('tenant-a', 'imei', '490154203237518') ?? '', PSEUDONYM);
  assert.throws(
    () => pz.tryPseudonym('nobody', 'imei', '490154203237518'),
    (e: unknown) => isSkjoldError(e, 'SKJOLD_ERR_KEYS'),
  );
  assert.throws(
    () => pz.pseudonym('tenant-a', 'imei', '490154203237518', 7),
    (e: unknown) => isSkjoldError(e, 'SKJOLD_ERR_KEY_VERSION'),
  );
  assert.throws(() => pz.pseudonym('tenant-a', 'ssn' as 'imei', '1'), /unknown identifier type/);
});

test('a building serial gets the same pseudonym however it is cased', () => {
  assert.equal(
    pz.pseudonym('tenant-b', 'serial', ' bs-ab12cd34ef'),
    pz.pseudonym('tenant-b', 'serial', 'BS-AB12CD34EF'),
  );
});

test('pseudonymizeText replaces each identifier in free text by [type:pseudonym]', () => {
  const note = 'Kunde ringer fra +45 20 12 34 56 (privat 20 12 34 56) om måler KAM12345678.';
  const { text, found } = pz.pseudonymizeText('tenant-a', note);
  assert.equal(
    text,
    `Kunde ringer fra [msisdn:${pz.pseudonym('tenant-a', 'msisdn', '+4520123456')}] (privat ` +
      `[number:${pz.pseudonym('tenant-a', 'number', '20123456')}]) om måler ` +
      `[wmbus:${pz.pseudonym('tenant-a', 'wmbus', 'KAM12345678')}].`,
  );
  assert.deepEqual(found, [{ type: 'msisdn' }, { type: 'number' }, { type: 'wmbus' }]);
  assert.doesNotMatch(text.replace(/\[[a-z]+:v\d+\.[a-z2-7]+\]/g, ''), /\d/);
});

test('property: the LRU cache never changes a result, whatever its size', () => {
  const uncached = createPseudonymizer(keyStore, { cacheSize: 0 });
  const tiny = createPseudonymizer(keyStore, { cacheSize: 3 });
  const call = fc.tuple(fc.constantFrom('tenant-a', 'tenant-b'), fc.constantFrom(1, undefined), imeiArb);
  fc.assert(
    fc.property(fc.array(call, { maxLength: 40 }), (calls) => {
      for (const [tenant, version, imei] of calls) {
        assert.equal(
          tiny.pseudonym(tenant, 'imei', imei, version),
          uncached.pseudonym(tenant, 'imei', imei, version),
        );
      }
      assert.ok(tiny.toJSON().cache.size <= 3);
    }),
  );
});

test('no secret and no cached identifier in JSON.stringify or util.inspect', () => {
  const p = createPseudonymizer(keyStore);
  const msisdn = '+4520123456';
  p.pseudonym('tenant-a', 'msisdn', msisdn);
  for (const text of [
    JSON.stringify(p),
    inspect(p, { depth: 10, showHidden: true }),
    JSON.stringify({ p, keyStore }),
  ]) {
    assert.ok(!text.includes('20123456'));
    for (const fill of [1, 2, 3]) {
      assert.ok(!text.includes(secret(fill).toString('base64')));
      assert.ok(!text.includes(secret(fill).toString('hex')));
    }
  }
  assert.deepEqual(p.toJSON(), { cache: { size: 1, limit: 100_000 } });
});
