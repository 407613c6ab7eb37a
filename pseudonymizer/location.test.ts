import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import { coarsenGps, countryForMcc, isKnownMcc } from './location.ts';

test('countryForMcc covers the Nordics, Europe, the US range and major countries', () => {
  const expected: Record<string, string> = {
    238: 'DK',
    240: 'SE',
    242: 'NO',
    244: 'FI',
    274: 'IS',
    288: 'FO',
    290: 'GL',
    262: 'DE',
    234: 'GB',
    235: 'GB',
    204: 'NL',
    208: 'FR',
    214: 'ES',
    222: 'IT',
    260: 'PL',
    246: 'LT',
    310: 'US',
    313: 'US',
    316: 'US',
    302: 'CA',
    334: 'MX',
    724: 'BR',
    404: 'IN',
    440: 'JP',
    460: 'CN',
    450: 'KR',
    505: 'AU',
    655: 'ZA',
    602: 'EG',
  };
  for (const [mcc, country] of Object.entries(expected)) {
    assert.equal(countryForMcc(mcc), country, mcc);
    assert.equal(countryForMcc(Number(mcc)), country, mcc);
  }
});

test('countryForMcc: unknown, malformed and international MCCs have no country', () => {
  for (const mcc of ['999', '100', '23', '2380', 'abc', '', 238.5, -1])
    assert.equal(countryForMcc(mcc), undefined);
  assert.equal(countryForMcc('901'), undefined);
  assert.equal(isKnownMcc('901'), true); // international networks: a valid IMSI, no country
  assert.equal(isKnownMcc('238'), true);
  assert.equal(isKnownMcc('999'), false);
});

test('coarsenGps rounds to 0–3 decimals and nothing finer', () => {
  assert.deepEqual(coarsenGps(55.676098, 12.568337, 3), { lat: 55.676, lon: 12.568 });
  assert.deepEqual(coarsenGps(55.676098, 12.568337, 1), { lat: 55.7, lon: 12.6 });
  assert.deepEqual(coarsenGps(-33.8688, 151.2093, 0), { lat: -34, lon: 151 });
  assert.deepEqual(coarsenGps(-0.0001, 0, 2), { lat: 0, lon: 0 });
  for (const decimals of [4, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => coarsenGps(55.6, 12.5, decimals),
      (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_VALIDATION'),
    );
  }
  for (const [lat, lon] of [
    [91, 0],
    [0, 181],
    [Number.NaN, 0],
  ] as const) {
    assert.throws(() => coarsenGps(lat, lon, 2), /out of range/);
  }
});
