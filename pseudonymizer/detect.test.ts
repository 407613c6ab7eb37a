import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { findInText, redactText, typeForFieldName } from './detect.ts';
import { classify, luhnCheckDigit } from './identifiers.ts';

const digits = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
const found = (text: string) => findInText(text).map((f) => [f.type, text.slice(f.start, f.end)]);

test('typeForFieldName: case and separators do not matter; generic names are serials', () => {
  const cases: Record<string, string | undefined> = {
    iccid: 'iccid',
    SIM: 'iccid',
    sim_id: 'iccid',
    simIccid: 'iccid',
    IMSI: 'imsi',
    imei: 'imei',
    modemImei: 'imei',
    'imei-sv': 'imeisv',
    IMEISV: 'imeisv',
    msisdn: 'msisdn',
    phoneNumber: 'msisdn',
    phone_number: 'msisdn',
    tel: 'msisdn',
    tlf: 'msisdn',
    Mobile: 'msisdn',
    meterId: 'wmbus',
    meter_id: 'wmbus',
    'meter serial': 'wmbus',
    wMBus: 'wmbus',
    serial: 'serial',
    serialNumber: 'serial',
    device_id: 'serial',
    devEUI: 'serial',
    id: undefined,
    temperature: undefined,
    telemetry: undefined,
    microphoneLevel: undefined,
    cell: undefined,
    mcc: undefined,
  };
  for (const [name, type] of Object.entries(cases)) assert.equal(typeForFieldName(name), type, name);
});

test('findInText finds each format the way people write it', () => {
  assert.deepEqual(found('ring +45 20 12 34 56 eller 20 12 34 56.'), [
    ['msisdn', '+45 20 12 34 56'],
    ['number', '20 12 34 56'],
  ]);
  assert.deepEqual(found('måler KAM12345678 og ELS-87654321 skiftet'), [
    ['wmbus', 'KAM12345678'],
    ['wmbus', 'ELS-87654321'],
  ]);
  assert.deepEqual(found('IMEI 35-209900-176148-1, SV 35 209900 176148 23'), [
    ['imei', '35-209900-176148-1'],
    ['imeisv', '35 209900 176148 23'],
  ]);
  assert.deepEqual(found('SIM 8944 5001 0219 8304 826 / IMSI 238011234567890'), [
    ['iccid', '8944 5001 0219 8304 826'],
    ['imsi', '238011234567890'],
  ]);
  // No-break spaces, as Danish and Swedish word processors put them between digit groups.
  assert.deepEqual(found('tlf.\u00a020\u00a012\u00a034\u00a056'), [['number', '20\u00a012\u00a034\u00a056']]);
  assert.deepEqual(found('call (555) 123-4567'), [['number', '555) 123-4567']]);
  // A capitalised code is a serial as a whole; letters glued to digits otherwise: the digits are still caught.
  assert.deepEqual(found('SN12345678 xKAM12345678'), [
    ['serial', 'SN12345678'],
    ['number', '12345678'],
  ]);
  assert.deepEqual(found('sensor BS-K3J9X2MPWA og BS-KXJQZAMPWA flyttet, kode SN4F2K9X01Z'), [
    ['serial', 'BS-K3J9X2MPWA'],
    ['serial', 'BS-KXJQZAMPWA'],
    ['serial', 'SN4F2K9X01Z'],
  ]);
  // Ordinary capitalised words and short codes are left alone.
  assert.deepEqual(found('CO2 high in ROOM-12, NOTE: BOILER replaced'), []);
});

test('findInText leaves short numbers and ISO dates alone', () => {
  assert.deepEqual(found('flow 1234567 m3, 12.5 °C, 3 sensors'), []);
  assert.deepEqual(found('replaced 2024-05-12, checked 2024-05-12T10:30:00.123 and 2024-05-12 10:30'), []);
  // A date does not shield digits next to it.
  assert.deepEqual(found('2024-05-12 20 12 34 56'), [['number', '20 12 34 56']]);
});

test('redactText replaces every finding with the canonical value handed to the callback', () => {
  const { text, found: types } = redactText(
    'a +45 20 12 34 56 b kam? KAM 12345678 c 20-12-34-56',
    (type, value) => `<${type}:${value}>`,
  );
  assert.equal(text, 'a <msisdn:+4520123456> b kam? <wmbus:KAM12345678> c <number:20123456>');
  assert.deepEqual(types, [{ type: 'msisdn' }, { type: 'wmbus' }, { type: 'number' }]);
  assert.deepEqual(
    redactText('nothing here', () => 'x'),
    { text: 'nothing here', found: [] },
  );
});

// Identifiers as the simulator and people write them.
const identifierArb = fc.oneof(
  digits(16).map((d) => `89${d}${luhnCheckDigit(`89${d}`)}`),
  digits(14).map((d) => {
    const imei = d + luhnCheckDigit(d);
    return `${imei.slice(0, 2)}-${imei.slice(2, 8)}-${imei.slice(8, 14)}-${imei.slice(14)}`;
  }),
  fc.tuple(fc.constantFrom('238', '240', '242', '244', '262', '310'), digits(12)).map(([mcc, d]) => mcc + d),
  fc
    .tuple(fc.constantFrom('+45', '+46', '+47'), digits(8))
    .map(([cc, d]) => `${cc} ${d.slice(0, 2)} ${d.slice(2, 4)} ${d.slice(4)}`),
  fc
    .tuple(fc.integer({ min: 2, max: 9 }), digits(7))
    .map(([a, d]) => `${a}${d[0]} ${d.slice(1, 3)} ${d.slice(3, 5)} ${d.slice(5)}`),
  fc
    .tuple(fc.stringMatching(/^[A-Z]{3}$/), fc.constantFrom('', ' ', '-'), digits(8))
    .map(([m, s, d]) => m + s + d),
);
// Filler: lower-case words and punctuation — no digits, capitals or separators that could join a run.
const fillerArb = fc.stringMatching(/^[a-zæøå ,;:!?'"]{0,12}[a-zæøå][a-zæøå ,;:!?'"]{0,12}$/);

test('property: every identifier embedded in random text is found, with its exact span', () => {
  fc.assert(
    fc.property(
      fillerArb,
      fc.array(fc.tuple(identifierArb, fillerArb), { minLength: 1, maxLength: 6 }),
      (head, parts) => {
        let text = head;
        const expected: Array<{ start: number; end: number; value: string }> = [];
        for (const [id, filler] of parts) {
          text += ' ';
          expected.push({ start: text.length, end: text.length + id.length, value: id });
          text += `${id} ${filler}`;
        }
        const findings = findInText(text);
        assert.equal(findings.length, expected.length);
        expected.forEach((e, i) => {
          const f = findings[i];
          assert.deepEqual([f?.start, f?.end], [e.start, e.end]);
          const wmbus = /^[A-Z]{3}/.test(e.value);
          assert.equal(f?.type, wmbus ? 'wmbus' : (classify(e.value) ?? 'number'));
        });
        const redacted = redactText(text, () => '#').text;
        assert.doesNotMatch(redacted, /\d/);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: text with fewer than 8 digits between breaks reports nothing', () => {
  const chunk = fc
    .array(
      fc.oneof(
        fc.constantFrom(...'0123456789'),
        // Lowercase letters: capitals and digits together make a serial code.
        fc.constantFrom(' ', '-', '.', '(', ')', '+', 'a', 'b', 'z'),
      ),
      {
        maxLength: 14,
      },
    )
    .filter((cs) => cs.filter((c) => /\d/.test(c)).length < 8)
    .map((cs) => cs.join(''));
  fc.assert(
    fc.property(fc.array(chunk), fc.constantFrom(',', 'x', '\n', '/', ';', '_'), (chunks, brk) => {
      assert.deepEqual(findInText(chunks.join(brk)), []);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => {
      assert.deepEqual(findInText(s.replace(/[0-9]/g, '').toLowerCase()), []);
    }),
  );
});

test('hostile input: 100 kB strings are scanned in linear time', () => {
  const size = 100_000;
  const inputs = [
    '1'.repeat(size),
    '1 '.repeat(size / 2),
    '1-'.repeat(size / 2),
    '+1'.repeat(size / 2),
    '1 ('.repeat(size / 3),
    ' ( ) 1'.repeat(size / 6),
    'KAM1234567 '.repeat(size / 11),
    'AAAA'.repeat(size / 4),
    '2024-05-1'.repeat(size / 9),
    '2024-05-12T10:30:00.'.repeat(size / 20),
    'ab 1234567 '.repeat(size / 11),
  ];
  for (const input of inputs) {
    const started = performance.now();
    redactText(input, () => '#');
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `${input.slice(0, 12)}… took ${ms.toFixed(0)} ms`);
  }
  assert.deepEqual(
    findInText('1 '.repeat(size / 2)).map((f) => f.type),
    ['number'],
  );
});
