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
        // Separators only: letters with digits can make a serial code.
        fc.constantFrom(' ', '-', '.', '(', ')', '+', '/', ',', ':', '_'),
      ),
      {
        maxLength: 14,
      },
    )
    .filter((cs) => cs.filter((c) => /\d/.test(c)).length < 8)
    .map((cs) => cs.join(''));
  // A break is anything that is not a separator, or a run of more than three separators.
  fc.assert(
    fc.property(fc.array(chunk), fc.constantFrom(';', '|', '    ', ' / - ', '!'), (chunks, brk) => {
      assert.deepEqual(findInText(chunks.join(brk)), []);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => {
      assert.deepEqual(findInText(s.replace(/[0-9@]/g, '').toLowerCase()), []);
    }),
  );
});

/** Separator runs people put between digit groups: one to three of space, tab, newline, . - / , : _ ( ). */
const separatorRunArb = fc
  .array(fc.constantFrom(' ', '\t', '\n', '\u00a0', '.', '-', '/', ',', ':', '_', '(', ')'), {
    minLength: 1,
    maxLength: 3,
  })
  .map((s) => s.join(''))
  // ', ' ends a list item ('21.5, 22.1' are two readings); a leading '(' or
  // trailing ')' is punctuation around the number, not in it.
  .filter((s) => !/,\s|^[(]|[)]$/.test(s));

/** `digits` cut into groups of 1 to 6, joined by separator runs. */
function grouped(digitString: string) {
  return fc
    .array(fc.tuple(fc.integer({ min: 1, max: 6 }), separatorRunArb), { minLength: 1, maxLength: 20 })
    .map((cuts) => {
      let out = '';
      let at = 0;
      for (const [size, sep] of cuts) {
        if (at >= digitString.length) break;
        out += digitString.slice(at, at + size);
        at += size;
        if (at < digitString.length) out += sep;
      }
      return out + digitString.slice(at);
    });
}

const imeiArb = digits(14).map((d) => d + luhnCheckDigit(d));
const iccidArb = digits(16).map((d) => `89${d}${luhnCheckDigit(`89${d}`)}`);
const imsiArb = fc.tuple(fc.constantFrom('238', '240', '242'), digits(12)).map(([mcc, d]) => mcc + d);
const localPhoneArb = fc.tuple(fc.integer({ min: 2, max: 9 }), digits(7)).map(([a, d]) => `${a}${d}`);

test('property: an identifier split into groups by any run of separators is found whole', () => {
  fc.assert(
    fc.property(
      fc
        .oneof(imeiArb, iccidArb, imsiArb, localPhoneArb)
        .chain((id) => grouped(id).map((written) => [id, written]))
        // Written as one decimal number ('45804,005') it reads as a meter reading, and is left as one.
        .filter(([, written]) => !/^\d{1,5}[.,]\d{1,3}$/.test(written as string)),
      fillerArb,
      ([id, written], filler) => {
        const text = `${filler} ${written} ${filler}`;
        const findings = findInText(text);
        assert.equal(findings.length, 1, `${JSON.stringify(written)} in ${JSON.stringify(text)}`);
        const [f] = findings;
        assert.equal(text.slice(f?.start, f?.end), written);
        // The canonical value is the digits, so every way of writing it gets one pseudonym.
        const { text: redacted } = redactText(text, (_type, value) => `<${value}>`);
        assert.ok(redacted.includes(`<${id}>`), redacted);
      },
    ),
    { numRuns: 500 },
  );
});

test('the examples people write: slashes, commas, colons, underscores, tabs, newlines, two separators in a row', () => {
  assert.deepEqual(found('IMEI 35/209900/176148/1 skiftet'), [['imei', '35/209900/176148/1']]);
  assert.deepEqual(found('ring 20 12 - 34 56'), [['number', '20 12 - 34 56']]);
  assert.deepEqual(found('sim 8944,5001,0219,8304,826'), [['iccid', '8944,5001,0219,8304,826']]);
  assert.deepEqual(found('imsi 238:01:1234567890'), [['imsi', '238:01:1234567890']]);
  assert.deepEqual(found('nr 20_12_34_56'), [['number', '20_12_34_56']]);
  assert.deepEqual(found('tlf\t20\t12\t34\t56'), [['number', '20\t12\t34\t56']]);
  assert.deepEqual(found('tlf 20 12\n34 56'), [['number', '20 12\n34 56']]);
  assert.deepEqual(found('tlf 20.12 34 56'), [['number', '20.12 34 56']]);
});

const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });

test('property: MAC addresses in every notation are found as mac, with one canonical form', () => {
  fc.assert(
    fc.property(
      hex(12),
      fc.constantFrom(':', '-', '.'),
      fc.boolean(),
      fc.constantFrom(...[' ', ', ', ' (']),
      (h, sep, upper, pad) => {
        const digitsHex = upper ? h.toUpperCase() : h;
        const written =
          sep === '.'
            ? `${digitsHex.slice(0, 4)}.${digitsHex.slice(4, 8)}.${digitsHex.slice(8)}`
            : (digitsHex.match(/../g) ?? []).join(sep);
        const text = `wifi${pad}${written} ok`;
        assert.deepEqual(found(text), [['mac', written]]);
        const { text: redacted } = redactText(text, (type, value) => `<${type}:${value}>`);
        assert.ok(redacted.includes(`<mac:${(h.toUpperCase().match(/../g) ?? []).join(':')}>`), redacted);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: e-mail addresses are found as email and pseudonymised in lower case', () => {
  const local = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._+-]{0,20}[A-Za-z0-9]$/);
  const domain = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]\.(dk|se|com|nu|co\.uk)$/);
  fc.assert(
    fc.property(local, domain, fillerArb, (l, d, filler) => {
      const email = `${l}@${d}`;
      const text = `${filler} <${email}>, ${filler}`;
      assert.deepEqual(found(text), [['email', email]]);
      const { text: redacted } = redactText(text, (type, value) => `[${type}:${value}]`);
      assert.ok(redacted.includes(`[email:${email.toLowerCase()}]`), redacted);
    }),
    { numRuns: 300 },
  );
});

test('property: hex and lower-case device codes are serials', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        // A LoRaWAN DevEUI or chip id: hex, either case, with letters and digits.
        hex(16).filter((h) => /\d/.test(h) && /[a-f]/.test(h)),
        hex(16)
          .filter((h) => /\d/.test(h) && /[a-f]/.test(h))
          .map((h) => h.toUpperCase()),
        hex(10)
          .filter((h) => /\d/.test(h) && /[a-f]/.test(h))
          .map((h) => `0x${h}`),
        // A typed device code in lower case: prefix, separator, code with letters and digits.
        fc
          .tuple(
            fc.stringMatching(/^[a-z]{2,5}$/),
            fc.constantFrom('-', '_'),
            fc.stringMatching(/^[a-z0-9]{8,12}$/),
          )
          .filter(([, , c]) => /\d/.test(c) && /[a-z]/.test(c))
          .map(([p, s, c]) => p + s + c),
      ),
      (code) => {
        assert.deepEqual(found(`sensor ${code} flyttet`), [['serial', code]]);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: ordinary readings are left alone: temperatures, timestamps, times, firmware versions', () => {
  const temperature = fc
    .tuple(fc.integer({ min: -40, max: 120 }), fc.integer({ min: 0, max: 9 }), fc.constantFrom('.', ','))
    .map(([i, f, sep]) => `${i}${sep}${f}`);
  const pad = (n: number) => String(n).padStart(2, '0');
  const instant = fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true });
  const timestamp = fc.oneof(
    instant.map((d) => d.toISOString()),
    instant.map((d) => d.toISOString().slice(0, 19).replace('T', ' ')),
    instant.map(
      (d) =>
        `${pad(d.getUTCDate())}.${pad(d.getUTCMonth() + 1)}.${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`,
    ),
    instant.map((d) => `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`),
    instant.map((d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`),
  );
  const version = fc
    .tuple(
      fc.constantFrom('v', 'fw ', 'firmware ', 'version ', 'ver. '),
      fc.array(fc.integer({ min: 0, max: 99999 }), { minLength: 2, maxLength: 4 }),
      fc.constantFrom('', '-rc1', '+build.7'),
    )
    .map(([p, parts, suffix]) => `${p}${parts.join('.')}${suffix}`);
  fc.assert(
    fc.property(
      fc.array(fc.oneof(temperature, timestamp, version), { minLength: 1, maxLength: 6 }),
      (readings) => {
        const text = `aflæst ${readings.join(', ')} i dag`;
        assert.deepEqual(found(text), [], text);
      },
    ),
    { numRuns: 500 },
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
    '1/ ,'.repeat(size / 4),
    'a@'.repeat(size / 2),
    'a.b@c.'.repeat(size / 6),
    'ab:'.repeat(size / 3),
    '0a1b2c3d4e5f'.repeat(size / 12),
    'x-a1'.repeat(size / 4),
    '12.12.'.repeat(size / 6),
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
