import { canonicalise, classify, type IdentifierType } from './identifiers.ts';

/**
 * Finding identifiers: by field name in structured payloads, by shape in free
 * text. Art. 25(1): data protection by design — an identifier typed into a
 * note field is as personal as one in the `iccid` field, so free text is
 * searched too, and what looks like an identifier but fits no format is still
 * redacted: a false positive costs a readable number, a false negative leaks.
 */

/** 'serial': the name says "device identifier" but no standard format (serial, device_id, sn). */
export type FieldIdentifierType = IdentifierType | 'serial';
/**
 * 'number': a run of 8 or more digits in text that fits no known format.
 * 'serial': a device code such as 'BS-K3J9X2MPWA' or 'SN4F2K9X01Z' (capitals and digits).
 */
export type FindingType = IdentifierType | 'serial' | 'number';

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
    ...['mac', 'macaddress'],
  ].map((n) => [n, 'serial'] as const),
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

// One scan, three alternatives, first match wins at each position. Every
// quantifier is bounded or consumes a digit per iteration and each separator
// has one parse, so the scan is linear in the text — no catastrophic
// backtracking on hostile input.
const SPACE = '[ \\u00a0\\u202f]'; // plus the no-break and thin spaces of Nordic number formatting
const SEPARATOR = `(?:${SPACE}|[.-]|${SPACE}?[()]${SPACE}?)`;
const PATTERN = new RegExp(
  [
    // 1: an ISO 8601 date (and time): eight digits that are no identifier.
    String.raw`(\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?)?(?!\d))`,
    // 2: a wM-Bus meter id, manufacturer in capitals as it is printed on meters.
    String.raw`((?<![A-Za-z0-9])[A-Z]{3}[ -]?\d{8}(?!\d))`,
    // 3: a digit run; digit groups may be split by one separator.
    String.raw`(\+?\d(?:${SEPARATOR}?\d)*)`,
    // 4: a device serial: a capitalised prefix, a separator and a code, or one
    // run of 10+ capitals and digits with a digit in it. Bounded quantifiers
    // only, so this alternative is linear too.
    String.raw`((?<![A-Za-z0-9])[A-Z][A-Z0-9]{1,7}[-_][A-Z0-9]{6,32}(?![A-Za-z0-9])|(?<![A-Za-z0-9])(?=[A-Z]{0,31}\d)[A-Z][A-Z0-9]{9,31}(?![A-Za-z0-9]))`,
  ].join('|'),
  'g',
);

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
 * '20 12 34 56' carries no country code to recognise it by).
 * Not found: digits in scripts other than ASCII, runs split by other
 * characters (commas, slashes, newlines), numbers shorter than 8 digits.
 */
export function findInText(text: string): Finding[] {
  const found: Finding[] = [];
  for (const m of text.matchAll(PATTERN)) {
    const start = m.index;
    const end = start + m[0].length;
    if (m[2] !== undefined) {
      found.push({ type: 'wmbus', start, end });
    } else if (m[3] !== undefined && countDigits(m[3]) >= MIN_DIGITS) {
      found.push({ type: classify(m[3]) ?? 'number', start, end });
    } else if (m[4] !== undefined) {
      found.push({ type: 'serial', start, end });
    }
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
