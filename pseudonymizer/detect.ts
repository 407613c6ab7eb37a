import { canonicalise, classify, type IdentifierType } from './identifiers.ts';

/**
 * Finding identifiers: by field name in structured payloads, by shape in free
 * text. Art. 25(1): data protection by design — an identifier typed into a
 * note field is as personal as one in the `iccid` field, so free text is
 * searched too, and what looks like an identifier but fits no format is still
 * redacted: a false positive costs a readable number, a false negative leaks.
 */

/** 'serial': the name says "device identifier" but no standard format (serial, device_id, sn). */
export type FieldIdentifierType = IdentifierType | 'serial' | 'mac' | 'email';
/**
 * 'number': a run of 8 or more digits in text that fits no known format.
 * 'serial': a device code such as 'BS-K3J9X2MPWA', 'sn4f2k9x01z' or a hex chip id.
 * 'mac': a MAC address; 'email': an e-mail address.
 */
export type FindingType = IdentifierType | 'serial' | 'number' | 'mac' | 'email';

export interface Finding {
  type: FindingType;
  /** Offsets into the searched text, end exclusive. */
  start: number;
  end: number;
}

// Field names after lower-casing and dropping separators, so `phoneNumber`,
// `phone_number` and `Phone-Number` are one entry. Danish/Swedish spellings
// are included because tenants name fields after their own register.
const FIELD_NAMES: ReadonlyMap<string, FieldIdentifierType> = new Map([
  ...['iccid', 'sim', 'simid', 'simcard', 'simcardid', 'simnumber', 'simserial', 'simserialnumber'].map(
    (n) => [n, 'iccid'] as const,
  ),
  ...['imsi', 'subscriberid'].map((n) => [n, 'imsi'] as const),
  ...['imei', 'equipmentid'].map((n) => [n, 'imei'] as const),
  ...['imeisv'].map((n) => [n, 'imeisv'] as const),
  ...[
    ...['msisdn', 'phone', 'phoneno', 'phonenumber', 'telephone', 'telephonenumber', 'tel', 'telno'],
    ...['mobile', 'mobileno', 'mobilenumber', 'mobilephone', 'cellphone'],
    ...['telefon', 'telefonnummer', 'tlf', 'tlfnr', 'mobil', 'mobilnr', 'mobilnummer'],
  ].map((n) => [n, 'msisdn'] as const),
  ...[
    ...['meterid', 'meterserial', 'meterserialnumber', 'meternumber', 'meterno', 'meternr'],
    ...['wmbus', 'wmbusid', 'wmbusaddress', 'secondaryaddress'],
  ].map((n) => [n, 'wmbus'] as const),
  // Generic device identifiers: personal by linkage whatever their format, so
  // pseudonymised as serials (the registry's name for them). A bare `id` is
  // not here: it names messages and records far more often than devices.
  ...[
    ...['serial', 'serialno', 'serialnr', 'serialnumber', 'sn', 'deviceid', 'deviceserial', 'devicenumber'],
    ...['sensorid', 'sensorserial', 'unitid', 'unitserial', 'hwid', 'hardwareid', 'uid', 'deveui', 'eui'],
  ].map((n) => [n, 'serial'] as const),
  ...['mac', 'macaddress', 'macaddr', 'wifimac', 'btmac'].map((n) => [n, 'mac'] as const),
  ...['email', 'emailaddress', 'mail', 'epost', 'epostadress', 'mailadresse'].map(
    (n) => [n, 'email'] as const,
  ),
]);

// Acronyms that mean one thing wherever they appear at either end of a name
// (`modemImei`, `sim_iccid`, `imsiHome`). Longest first: imeisv before imei.
const NAME_AFFIXES: ReadonlyArray<readonly [string, IdentifierType]> = [
  ['imeisv', 'imeisv'],
  ['iccid', 'iccid'],
  ['imsi', 'imsi'],
  ['imei', 'imei'],
  ['msisdn', 'msisdn'],
  ['wmbus', 'wmbus'],
];

/** The identifier type a field of this name holds, or undefined for a field that holds none. */
export function typeForFieldName(name: string): FieldIdentifierType | undefined {
  const key = name.toLowerCase().replace(/[\s_.-]/g, '');
  const exact = FIELD_NAMES.get(key);
  if (exact !== undefined) return exact;
  for (const [affix, type] of NAME_AFFIXES) {
    if (key.startsWith(affix) || key.endsWith(affix)) return type;
  }
  return undefined;
}

const MIN_DIGITS = 8;

// One scan, first alternative to match at each position wins. Every
// quantifier is bounded or consumes a digit per iteration, and each separator
// run has one parse, so the scan is linear in the text — no catastrophic
// backtracking on hostile input.
const HEX = '[0-9A-Fa-f]';
// How people split digit groups: spaces (with the no-break and thin spaces of
// Nordic number formatting), tabs and newlines, . - / , : _ and parentheses,
// one to three of them in a row ('20 12 - 34 56', '35/209900/176148/1').
const SEPARATOR_RUN = String.raw`[ \t\r\n\u00a0\u202f.\-/,:_()]{1,3}`;
const DAY = String.raw`(?:0?[1-9]|[12]\d|3[01])`;
const MONTH = '(?:0?[1-9]|1[0-2])';
const TIME = String.raw`(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?`;
// Not followed by another digit group: what makes '20-12-34' of '20-12-34-56'
// no date and '20.12' of 'tlf 20.12 34 56' no reading. ', ' is a list, not a
// group separator, so '21.5, 22.1' and '12:00, 13:00' stay readings.
const NOT_GROUPED = String.raw`(?!\d|(?!,\s)[ \t\r\n\u00a0\u202f.,\-/:_()]{1,3}\d)`;
const ALTERNATIVES: ReadonlyArray<readonly [FindingType | 'skip', string]> = [
  // An e-mail address names a person as surely as a phone number does.
  [
    'email',
    String.raw`(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])`,
  ],
  // A MAC address: six hex pairs, or three groups of four (Cisco).
  [
    'mac',
    String.raw`(?<![0-9A-Fa-f:-])(?:${HEX}{2}(?::${HEX}{2}){5}|${HEX}{2}(?:-${HEX}{2}){5})(?![0-9A-Fa-f])|(?<![0-9A-Fa-f.])${HEX}{4}\.${HEX}{4}\.${HEX}{4}(?![0-9A-Fa-f])`,
  ],
  // Dates and times are no identifiers: ISO 8601, and day.month.year as Danes and Swedes write it.
  ['skip', String.raw`\d{4}-${MONTH}-${DAY}(?:[T ]${TIME})?(?!\d)`],
  [
    'skip',
    String.raw`(?<![\d.])${DAY}[./-]${MONTH}[./-](?:\d{4}|\d{2})(?:,? (?:kl\.? ?)?${TIME})?${NOT_GROUPED}`,
  ],
  ['skip', String.raw`(?<![\d:])${TIME}${NOT_GROUPED}`],
  // A firmware or software version, when it is called one.
  [
    'skip',
    // A bare `v` only glued to its number ('v1.2.3'); 'v 3.3 155869' is a word and a phone number.
    String.raw`(?<![A-Za-z0-9])(?:[vV](?=\d)|(?:[fF][wW]|[fF]irmware|[vV]ersion|[vV]er\.?) ?)\d{1,5}(?:\.\d{1,6}){1,4}(?:[-+][0-9A-Za-z.]{1,20})?${NOT_GROUPED}`,
  ],
  // A wM-Bus meter id: manufacturer code and 8-digit serial.
  ['wmbus', String.raw`(?<![A-Za-z0-9])(?:[A-Z]{3}[ -]?|[A-Za-z]{3})\d{8}(?![A-Za-z0-9])`],
  // A measurement with one decimal separator ('21.5', '-3,2'), not the first groups of '20.12.34.56'.
  ['skip', String.raw`(?<![\d.,])\d{1,5}[.,]\d{1,3}(?![.,]\d)${NOT_GROUPED}`],
  // A hex code (a DevEUI, a chip id), either case, letters and digits both in it.
  [
    'serial',
    String.raw`(?<![A-Za-z0-9])(?:0[xX])?(?=${HEX}{0,63}[A-Fa-f])(?=${HEX}{0,63}\d)${HEX}{10,64}(?![A-Za-z0-9])`,
  ],
  // A digit run: groups split by separator runs; 8 digits or more is reported.
  ['number', String.raw`\+?\d(?:(?:${SEPARATOR_RUN})?\d)*`],
  // A device serial: a prefix, - or _ and a code with a digit in it, either case;
  // or one run of 10+ capitals and digits with a digit in it.
  [
    'serial',
    String.raw`(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]{1,7}[-_](?=[A-Za-z0-9]{0,31}\d)(?=[A-Za-z0-9]{0,31}[A-Za-z])[A-Za-z0-9]{6,32}(?![A-Za-z0-9])|(?<![A-Za-z0-9])[A-Z][A-Z0-9]{1,7}[-_][A-Z0-9]{6,32}(?![A-Za-z0-9])|(?<![A-Za-z0-9])(?=[A-Z]{0,31}\d)[A-Z][A-Z0-9]{9,31}(?![A-Za-z0-9])`,
  ],
];
// No alternative has a capture group of its own: alternative i is group i + 1.
const PATTERN = new RegExp(ALTERNATIVES.map(([, source]) => `(${source})`).join('|'), 'g');

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/**
 * Identifiers in free text. Known formats get their type; any other run of at
 * least 8 digits is reported as 'number' (a phone number written
 * '20 12 34 56' carries no country code to recognise it by), whatever the
 * separators between its groups. E-mail and MAC addresses get their own
 * types; hex codes and device codes in either case are serials. Dates,
 * times, decimal readings and named versions are left alone.
 * Not found: digits in scripts other than ASCII, numbers shorter than 8 digits.
 */
export function findInText(text: string): Finding[] {
  const found: Finding[] = [];
  for (const m of text.matchAll(PATTERN)) {
    const start = m.index;
    const end = start + m[0].length;
    const type = ALTERNATIVES.find((_alt, i) => m[i + 1] !== undefined)?.[0];
    if (type === undefined || type === 'skip') continue;
    if (type === 'number' && countDigits(m[0]) < MIN_DIGITS) continue;
    found.push({ type: type === 'number' ? (classify(m[0]) ?? 'number') : type, start, end });
  }
  return found;
}

/**
 * Replaces every finding with `replace(type, canonical value)`. The result's
 * `found` lists types only: a caller that wants to count or log findings has
 * nothing to leak.
 */
export function redactText(
  text: string,
  replace: (type: FindingType, normalisedValue: string) => string,
): { text: string; found: Array<{ type: FindingType }> } {
  const findings = findInText(text);
  if (findings.length === 0) return { text, found: [] };
  let out = '';
  let last = 0;
  for (const f of findings) {
    out += text.slice(last, f.start) + replace(f.type, canonicalise(f.type, text.slice(f.start, f.end)));
    last = f.end;
  }
  return { text: out + text.slice(last), found: findings.map((f) => ({ type: f.type })) };
}
