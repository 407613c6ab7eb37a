import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isSkjoldError } from '../lib/errors.ts';
import {
  canonicalise,
  classify,
  type IdentifierType,
  isValid,
  luhnCheckDigit,
  luhnValid,
  normalise,
  parseImsi,
} from './identifiers.ts';

const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const withCheck = (payload: string): string => payload + luhnCheckDigit(payload);
const iccidArb = digits(16, 17).map((d) => withCheck(`89${d}`));
// TACs open with their reporting body (35 BABT, 86 TAF China, 01 PTCRB, 49 BZT).
const imeiArb = fc
  .tuple(fc.constantFrom('35', '86', '01', '49'), digits(12, 12))
  .map(([rb, d]) => withCheck(rb + d));

/** Every string that differs from `v` in exactly one digit. */
function singleDigitChanges(v: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) {
    for (const d of '0123456789') if (d !== v[i]) out.push(v.slice(0, i) + d + v.slice(i + 1));
  }
  return out;
}

test('accepts identifiers in their real formats and normalises them', () => {
  const cases: Array<[IdentifierType, string, string]> = [
    ['iccid', '89014103211118510720', '89014103211118510720'],
    ['iccid', '8944 5001 0219 8304 826', '8944500102198304826'],
    ['imsi', '310150123456789', '310150123456789'],
    ['imsi', '238 01 1234567890', '238011234567890'],
    ['imsi', '901281234567890', '901281234567890'],
    ['imei', '35-209900-176148-1', '352099001761481'],
    ['imei', '490154203237518', '490154203237518'],
    ['imeisv', '35-209900-176148-23', '3520990017614823'],
    ['msisdn', '+45 20 12 34 56', '+4520123456'],
    ['msisdn', '4520123456', '+4520123456'],
    ['msisdn', '+46 70-123 45 67', '+46701234567'],
    ['msisdn', '+1 (555) 123-4567', '+15551234567'],
    ['wmbus', 'KAM12345678', 'KAM12345678'],
    ['wmbus', 'kam 12345678', 'KAM12345678'],
    ['wmbus', 'ELS-00001234', 'ELS00001234'],
  ];
  for (const [type, value, expected] of cases) {
    assert.equal(normalise(type, value), expected, `${type} ${value}`);
    assert.equal(isValid(type, value), true);
  }
});

test('rejects off-by-one check digits, wrong lengths and wrong prefixes', () => {
  const cases: Array<[IdentifierType, string]> = [
    ['iccid', '89014103211118510721'], // Luhn
    ['iccid', '88014103211118510720'], // not 89
    ['iccid', '890141032111185107'], // 18 digits
    ['iccid', '8901410321111851072F'], // trailing F is not a digit
    ['imei', '490154203237519'], // Luhn
    ['imei', '49015420323751'], // 14 digits
    ['imei', '4901542032375180'], // 16 digits
    ['imsi', '999011234567890'], // no such MCC
    ['imsi', '100011234567890'], // no such MCC
    ['imsi', '23801123456789'], // 14 digits
    ['imsi', '2380112345678901'], // 16 digits
    ['imeisv', '352099001761481'], // 15 digits
    ['msisdn', '+045 20 12 34 56'], // country code never starts with 0
    ['msisdn', '+4512345'], // 7 digits
    ['msisdn', '+4520123456789012'], // 16 digits
    ['msisdn', '+45 20 12 34 5a'],
    ['wmbus', 'KA12345678'],
    ['wmbus', 'KAM1234567'],
    ['wmbus', 'KAM123456789'],
    ['wmbus', 'K4M12345678'],
    ['wmbus', 'KÄM12345678'],
  ];
  for (const [type, value] of cases) assert.equal(isValid(type, value), false, `${type} ${value}`);
  assert.equal(isValid('imei', '3'.repeat(10_000)), false);
});

test('an invalid identifier throws with its type but never its value', () => {
  const value = '490154203237519';
  assert.throws(
    () => normalise('imei', value),
    (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_IDENTIFIER_INVALID') && !err.message.includes(value),
  );
  assert.throws(() => normalise('passport' as IdentifierType, 'X'), /unknown identifier type/);
  assert.equal(isValid('imei', 490154203237518 as unknown as string), false);
});

test('classify names a value by its shape alone, most specific first', () => {
  assert.equal(classify('89014103211118510720'), 'iccid');
  assert.equal(classify('35-209900-176148-1'), 'imei');
  assert.equal(classify('310150123456789'), 'imsi'); // Luhn fails, so not an IMEI
  assert.equal(classify('240071234567890'), 'imsi'); // Luhn passes, but no IMEI starts with 24
  assert.equal(classify('356938035643809'), 'imei'); // 35: a BABT-allocated TAC
  assert.equal(classify('3520990017614823'), 'imeisv');
  assert.equal(classify('kam 12345678'), 'wmbus');
  assert.equal(classify('+45 20 12 34 56'), 'msisdn');
  // Without '+' a digit run is no MSISDN: its country cannot be known.
  assert.equal(classify('20 12 34 56'), null);
  assert.equal(classify('4520123456'), null);
  assert.equal(classify('hello'), null);
});

test('parseImsi splits MCC, MNC (2 or 3 digits) and MSIN', () => {
  assert.deepEqual(parseImsi('238011234567890'), { mcc: '238', mnc: '01', msin: '1234567890' });
  assert.deepEqual(parseImsi('240-07-1234567890'), { mcc: '240', mnc: '07', msin: '1234567890' });
  assert.deepEqual(parseImsi('310150123456789'), { mcc: '310', mnc: '150', msin: '123456789' });
  assert.throws(
    () => parseImsi('999011234567890'),
    (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_IDENTIFIER_INVALID'),
  );
});

test('canonicalise: serials in capitals, free-text numbers as digits', () => {
  assert.equal(canonicalise('serial', '  bs-ab12cd34ef '), 'BS-AB12CD34EF');
  assert.equal(canonicalise('serial', 'BS-AB12CD34EF'), 'BS-AB12CD34EF');
  assert.equal(canonicalise('number', '20 12-34.56'), '20123456');
  assert.equal(canonicalise('msisdn', '+45 20 12 34 56'), '+4520123456');
  assert.throws(() => canonicalise('serial', '   '), /not a valid serial/);
  assert.throws(() => canonicalise('number', '12ab'), /not a valid number/);
});

test('luhnCheckDigit and luhnValid agree with the ISO/IEC 7812 examples', () => {
  assert.equal(luhnCheckDigit('7992739871'), 3);
  assert.equal(luhnValid('79927398713'), true);
  assert.equal(luhnValid('79927398710'), false);
  assert.equal(luhnValid('7'), false);
  assert.equal(luhnValid('12a4'), false);
  assert.throws(() => luhnCheckDigit('12a'), /digits/);
});

test('property: generated ICCIDs and IMEIs validate; any single-digit change breaks Luhn', () => {
  fc.assert(
    fc.property(iccidArb, (iccid) => {
      assert.equal(isValid('iccid', iccid), true);
      assert.equal(classify(iccid), 'iccid');
      for (const changed of singleDigitChanges(iccid)) assert.equal(luhnValid(changed), false);
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(imeiArb, (imei) => {
      assert.equal(isValid('imei', imei), true);
      assert.equal(classify(imei), 'imei');
      for (const changed of singleDigitChanges(imei)) assert.equal(isValid('imei', changed), false);
    }),
    { numRuns: 200 },
  );
});

test('property: normalise is idempotent and ignores how digits are grouped', () => {
  const sep = fc.constantFrom('', ' ', '-', '.');
  fc.assert(
    fc.property(imeiArb, fc.array(sep, { minLength: 15, maxLength: 15 }), (imei, seps) => {
      const written = [...imei].map((d, i) => d + (i < 14 ? seps[i] : '')).join('');
      assert.equal(normalise('imei', written), imei);
      assert.equal(normalise('imei', normalise('imei', written)), imei);
    }),
  );
  fc.assert(
    fc.property(fc.constantFrom('45', '46', '47', '358'), digits(8, 8), (cc, n) => {
      const spaced = `+${cc} ${n.slice(0, 2)} ${n.slice(2, 4)} ${n.slice(4, 6)} ${n.slice(6)}`;
      assert.equal(normalise('msisdn', spaced), `+${cc}${n}`);
      assert.equal(normalise('msisdn', normalise('msisdn', spaced)), `+${cc}${n}`);
    }),
  );
});
