import { SkjoldError } from '../lib/errors.ts';
import { isKnownMcc } from './location.ts';
import { luhnValid } from './luhn.ts';

export { luhnCheckDigit, luhnValid } from './luhn.ts';

/**
 * Validators and normalisers for the identifiers that make telemetry personal
 * data: each links a device to a household or person for whoever holds the
 * customer register (Art. 4(1)). One canonical written form per identifier is
 * what makes pseudonyms stable: '+45 20 12 34 56' and '+4520123456' are the
 * same subscriber and must get the same pseudonym (Art. 4(5)).
 */
export type IdentifierType = 'iccid' | 'imsi' | 'imei' | 'imeisv' | 'msisdn' | 'wmbus';
export const IDENTIFIER_TYPES: readonly IdentifierType[] = [
  'iccid',
  'imsi',
  'imei',
  'imeisv',
  'msisdn',
  'wmbus',
];

/**
 * What the pseudonymizer accepts besides the six formats: 'serial' is a device
 * serial of no standard format (a building sensor's, or any field named like
 * one); 'number' is a digit run found in free text that fits no format.
 */
export type PseudonymType = IdentifierType | 'serial' | 'number' | 'mac' | 'email';
export const PSEUDONYM_TYPES: readonly PseudonymType[] = [
  ...IDENTIFIER_TYPES,
  'serial',
  'number',
  'mac',
  'email',
];

// Longest written form of a known identifier we bother to parse: a 20-digit
// ICCID with a separator between every digit fits; anything longer is not one.
const MAX_WRITTEN_LENGTH = 64;
// Longest serial accepted.
const MAX_SERIAL_LENGTH = 256;
// How people write digit groups: spaces (\s includes the no-break and thin
// spaces of Nordic number formatting, tabs and newlines), hyphens, dots,
// slashes, commas, colons, underscores, parentheses.
const SEPARATORS = /[\s.\-()/,:_]/g;

function digitsOf(value: string): string | undefined {
  const d = value.replace(SEPARATORS, '');
  return /^\d+$/.test(d) ? d : undefined;
}

type Normaliser = (value: string) => string | undefined;

const NORMALISERS: Record<IdentifierType, Normaliser> = {
  // ITU-T E.118: '89' (telecom) + country + issuer + account + Luhn digit; 19 or 20 digits.
  iccid: (v) => {
    const d = digitsOf(v);
    return d !== undefined && /^89\d{17,18}$/.test(d) && luhnValid(d) ? d : undefined;
  },
  // ITU-T E.212: MCC + MNC + MSIN, 15 digits; the MCC must be a real one.
  imsi: (v) => {
    const d = digitsOf(v);
    return d !== undefined && d.length === 15 && isKnownMcc(d.slice(0, 3)) ? d : undefined;
  },
  // 3GPP TS 23.003: TAC (8) + serial (6) + Luhn digit.
  imei: (v) => {
    const d = digitsOf(v);
    return d !== undefined && d.length === 15 && luhnValid(d) ? d : undefined;
  },
  // 3GPP TS 23.003: TAC (8) + serial (6) + software version (2); no check digit.
  imeisv: (v) => {
    const d = digitsOf(v);
    return d !== undefined && d.length === 16 ? d : undefined;
  },
  // ITU-T E.164: up to 15 digits, country code first (never 0); stored with '+'.
  msisdn: (v) => {
    const m = /^\+?([1-9]\d{7,14})$/.exec(v.replace(SEPARATORS, ''));
    return m ? `+${m[1]}` : undefined;
  },
  // EN 13757-7 / -3: 3-letter FLAG manufacturer code + 8-digit (BCD) serial.
  wmbus: (v) => {
    const s = v.replace(SEPARATORS, '').toUpperCase();
    return /^[A-Z]{3}\d{8}$/.test(s) ? s : undefined;
  },
};

function isIdentifierType(type: unknown): type is IdentifierType {
  return typeof type === 'string' && Object.hasOwn(NORMALISERS, type);
}

function tryNormalise(type: IdentifierType, value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_WRITTEN_LENGTH) return undefined;
  return NORMALISERS[type](value.trim());
}

/**
 * The canonical form of `value` as a `type`. Throws SKJOLD_ERR_IDENTIFIER_INVALID
 * naming the type only: the value is personal data and stays out of errors and logs.
 */
export function normalise(type: IdentifierType, value: string): string {
  if (!isIdentifierType(type))
    throw new SkjoldError('SKJOLD_ERR_IDENTIFIER_INVALID', 'unknown identifier type');
  const normalised = tryNormalise(type, value);
  if (normalised === undefined) throw new SkjoldError('SKJOLD_ERR_IDENTIFIER_INVALID', `not a valid ${type}`);
  return normalised;
}

export function isValid(type: IdentifierType, value: string): boolean {
  return isIdentifierType(type) && tryNormalise(type, value) !== undefined;
}

// Most specific first. ICCIDs (19–20 digits) and IMEISVs (16) cannot collide
// with the 15-digit types; IMEI and IMSI can (one IMSI in ten passes Luhn).
const CLASSIFY_ORDER: readonly IdentifierType[] = ['iccid', 'imei', 'imsi', 'imeisv', 'wmbus'];
// An IMEI's first two digits name the body that allocated its TAC (GSMA
// TS.06: 35 BABT, 86 TAF, 01 PTCRB, …); no European MCC starts like one, so a
// Luhn-valid 2xx… is read as the IMSI it almost surely is. Where both fit (a
// 35x Caribbean or 505 Australian IMSI) it reads as an IMEI: structured data
// names its fields (detect.ts), and either way the value is pseudonymised.
const IMEI_REPORTING_BODIES: ReadonlySet<string> = new Set(
  '00 01 10 30 33 35 44 45 49 50 51 52 53 54 86 91 98 99'.split(' '),
);

/**
 * The identifier type of a value seen without a field name, or null. A bare
 * digit run is an MSISDN only when written with '+': '20123456' could be a
 * local phone number, a meter reading or an order number, and guessing a
 * country code would give it a pseudonym that matches nothing.
 */
export function classify(value: string): IdentifierType | null {
  if (typeof value !== 'string' || value.length > MAX_WRITTEN_LENGTH) return null;
  const v = value.trim();
  if (v.startsWith('+')) return NORMALISERS.msisdn(v) === undefined ? null : 'msisdn';
  for (const type of CLASSIFY_ORDER) {
    const n = NORMALISERS[type](v);
    if (n === undefined) continue;
    if (type === 'imei' && !IMEI_REPORTING_BODIES.has(n.slice(0, 2)) && NORMALISERS.imsi(n) !== undefined) {
      return 'imsi';
    }
    return type;
  }
  return null;
}

/**
 * The canonical value that gets pseudonymised: `normalise` for the six
 * formats; for the others, the forms that make equal values hash equal.
 */
export function canonicalise(type: PseudonymType, value: string): string {
  if (type === 'number') {
    // Digits only: '20 12 34 56' and '20-12-34-56' are the same number.
    const m = typeof value === 'string' ? /^\+?(\d+)$/.exec(value.replace(SEPARATORS, '')) : null;
    if (!m) throw new SkjoldError('SKJOLD_ERR_IDENTIFIER_INVALID', 'not a valid number');
    return m[1] as string;
  }
  if (type === 'email') {
    // Domains are case-insensitive and so, in practice, are mailboxes: one person, one pseudonym.
    const v = typeof value === 'string' ? value.trim().toLowerCase() : '';
    if (!/^[^\s@]{1,64}@[^\s@]{3,253}$/.test(v))
      throw new SkjoldError('SKJOLD_ERR_IDENTIFIER_INVALID', 'not a valid email');
    return v;
  }
  if (type === 'mac') {
    // IEEE 802 address: 12 hex digits, however grouped; written AA:BB:CC:DD:EE:FF.
    const hex = typeof value === 'string' ? value.replace(/[\s:.-]/g, '').toUpperCase() : '';
    if (!/^[0-9A-F]{12}$/.test(hex))
      throw new SkjoldError('SKJOLD_ERR_IDENTIFIER_INVALID', 'not a valid mac');
    return hex.match(/../g)?.join(':') ?? hex;
  }
  if (type === 'serial') {
    // Serials are printed in capitals and typed any which way; NFC so visually equal text is equal.
    // Matches registry enrolment's normalisation, so its already-normalised serials are fixed points.
    const v = typeof value === 'string' ? value.trim().normalize('NFC').toUpperCase() : '';
    if (v.length === 0 || v.length > MAX_SERIAL_LENGTH) {
      throw new SkjoldError('SKJOLD_ERR_IDENTIFIER_INVALID', 'not a valid serial');
    }
    return v;
  }
  return normalise(type, value);
}

/**
 * MNC length cannot be read from an IMSI (only the SIM's EF_AD or the operator
 * knows it). Rule of thumb: 3 digits in the North American and Caribbean NANP
 * countries, Mexico, Honduras, Argentina and Colombia; 2 elsewhere, which
 * covers Europe. The MCC — all Skjold keeps of location — is exact either way.
 */
const THREE_DIGIT_MNC_MCCS: ReadonlySet<string> = new Set(
  '302 310 311 312 313 314 315 316 330 334 338 342 344 346 348 352 354 356 358 360 365 366 376 708 722 732'.split(
    ' ',
  ),
);

export function mncLength(mcc: string): 2 | 3 {
  return THREE_DIGIT_MNC_MCCS.has(mcc) ? 3 : 2;
}

/** Splits a valid IMSI; throws SKJOLD_ERR_IDENTIFIER_INVALID otherwise. */
export function parseImsi(value: string): { mcc: string; mnc: string; msin: string } {
  const imsi = normalise('imsi', value);
  const mcc = imsi.slice(0, 3);
  const end = 3 + mncLength(mcc);
  return { mcc, mnc: imsi.slice(3, end), msin: imsi.slice(end) };
}
