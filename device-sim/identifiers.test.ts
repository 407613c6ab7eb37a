import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createIdentifierSource,
  generate,
  isIccid,
  isImei,
  isImsi,
  isMsisdn,
  luhnCheckDigit,
  luhnValid,
  spaced,
  VALIDATORS,
} from './identifiers.ts';
import { createRng } from './random.ts';

test('Luhn matches published examples', () => {
  assert.equal(luhnCheckDigit('7992739871'), 3);
  assert.ok(luhnValid('79927398713'));
  assert.ok(!luhnValid('79927398710'));
  assert.ok(luhnValid('490154203237518')); // the IMEI example from 3GPP TS 23.003 tutorials
  assert.ok(!luhnValid('490154203237517'));
});

test('generated identifiers are valid in every format', () => {
  const rng = createRng(3);
  for (let i = 0; i < 2000; i++) {
    for (const c of ['DK', 'SE'] as const) {
      const iccid = generate.iccid(rng, c);
      assert.ok(isIccid(iccid), iccid);
      assert.equal(iccid.length, 19);
      assert.ok(iccid.startsWith(c === 'DK' ? '8945' : '8946'));
      const imsi = generate.imsi(rng, c);
      assert.ok(isImsi(imsi) && imsi.length === 15 && imsi.startsWith(c === 'DK' ? '238' : '240'), imsi);
      const msisdn = generate.msisdn(rng, c);
      assert.ok(isMsisdn(msisdn), msisdn);
      assert.match(msisdn, c === 'DK' ? /^\+45\d{8}$/ : /^\+467\d{8}$/);
    }
    const imei = generate.imei(rng);
    assert.ok(isImei(imei) && imei.length === 15, imei);
    assert.match(generate.wmbus(rng), /^(KAM|DME|ITW|LUG|SEN|ZRI)\d{8}$/);
    assert.match(generate.serial(rng), /^BS-[A-Z0-9]{10}$/);
  }
});

test('a source never hands out the same value twice and records all it used', () => {
  const source = createIdentifierSource(createRng(9));
  source.reserve(['KAM00000001']);
  const values = [
    ...Array.from({ length: 3000 }, () => source.wmbus()),
    ...Array.from({ length: 3000 }, () => source.serial()),
    ...Array.from({ length: 1000 }, () => source.iccid('DK')),
    ...Array.from({ length: 1000 }, () => source.msisdn('SE')),
  ];
  assert.equal(new Set(values).size, values.length);
  assert.ok(!values.includes('KAM00000001'));
  assert.equal(source.used().length, values.length + 1);
  const other = source.withRng(createRng(10)); // another stream, shared record
  const more = Array.from({ length: 100 }, () => other.wmbus());
  assert.ok(more.every((v) => !values.includes(v)));
  assert.equal(source.used().length, values.length + 101);
});

test('sources are deterministic by seed', () => {
  const a = createIdentifierSource(createRng(11)).simIdentifiers('SE');
  const b = createIdentifierSource(createRng(11)).simIdentifiers('SE');
  assert.deepEqual(a, b);
  for (const [type, value] of Object.entries(a)) {
    assert.ok(VALIDATORS[type as keyof typeof VALIDATORS](value), `${type} ${value}`);
  }
});

test('spaced forms keep every digit in order', () => {
  assert.equal(spaced('+4520123456', 'msisdn'), '+45 20 12 34 56');
  assert.equal(spaced('+46701234567', 'msisdn'), '+46 70 123 45 67');
  assert.equal(spaced('490154203237518', 'imei'), '49 015420 323751 8');
  const iccid = generate.iccid(createRng(1), 'DK');
  assert.equal(spaced(iccid, 'iccid').replaceAll(' ', ''), iccid);
});
