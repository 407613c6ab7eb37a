/**
 * Generators of valid device and subscriber identifiers. The pseudonymizer must
 * recognise every one of them, so they follow the real formats:
 * - ICCID (ITU-T E.118): '89' + country code + issuer + account, 19 digits with a Luhn check digit.
 * - IMSI (ITU-T E.212): MCC + 2-digit MNC + MSIN, 15 digits.
 * - IMEI (3GPP TS 23.003): 8-digit TAC + 6-digit serial + Luhn check digit.
 * - MSISDN (E.164): +45 and 8 digits; +46 7 and 8 digits (Swedish mobile).
 * - wM-Bus meter id (EN 13757-3): 3-letter manufacturer code + 8-digit serial.
 * - building sensor serial: 'BS-' + 10 uppercase alphanumerics (Skjold's own format).
 *
 * An `IdentifierSource` remembers every value it has handed out (and any value
 * it is told about), so identifiers are unique within a fleet and the list of
 * raw identifiers the simulator used is complete.
 */
import type { Rng } from './random.ts';

export type Country = 'DK' | 'SE';
export type IdentifierType = 'iccid' | 'imsi' | 'imei' | 'msisdn' | 'wmbus' | 'serial';

export const WMBUS_MANUFACTURERS = ['KAM', 'DME', 'ITW', 'LUG', 'SEN', 'ZRI'] as const;

const ICCID_COUNTRY: Record<Country, string> = { DK: '45', SE: '46' };
// Two-digit issuer ids; real ones are operator-specific, any two digits are well-formed.
const ICCID_ISSUERS: Record<Country, readonly string[]> = {
  DK: ['01', '02', '06', '20'],
  SE: ['01', '07', '08', '10'],
};
const IMSI_NETWORKS: Record<Country, { mcc: string; mncs: readonly string[] }> = {
  DK: { mcc: '238', mncs: ['01', '02', '06', '20'] },
  SE: { mcc: '240', mncs: ['01', '02', '07', '08'] },
};
// Type allocation codes of common IoT modules (the first 8 IMEI digits).
const IMEI_TACS = ['35209900', '86810304', '35332811', '86637505', '35925406'] as const;
const SE_MOBILE_SECOND = ['0', '2', '3', '6', '9'] as const;
const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';

/** Luhn check digit for a string of decimal digits (the digit to append). */
export function luhnCheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    // Double every second digit counting from the right of the final number, i.e.
    // from the rightmost digit of the payload (the check digit will sit to its right).
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

export function luhnValid(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  return luhnCheckDigit(digits.slice(0, -1)) === Number(digits.at(-1));
}

export function isIccid(v: string): boolean {
  return /^89(45|46)\d{15}$/.test(v) && luhnValid(v);
}
export function isImsi(v: string): boolean {
  return /^(238|240)\d{12}$/.test(v);
}
export function isImei(v: string): boolean {
  return /^\d{15}$/.test(v) && luhnValid(v);
}
export function isMsisdn(v: string): boolean {
  return /^\+45[2-9]\d{7}$/.test(v) || /^\+467\d{8}$/.test(v);
}
export function isWmbusId(v: string): boolean {
  return new RegExp(`^(${WMBUS_MANUFACTURERS.join('|')})\\d{8}$`).test(v);
}
export function isBuildingSerial(v: string): boolean {
  return /^BS-[A-Z0-9]{10}$/.test(v);
}

export const VALIDATORS: Record<IdentifierType, (v: string) => boolean> = {
  iccid: isIccid,
  imsi: isImsi,
  imei: isImei,
  msisdn: isMsisdn,
  wmbus: isWmbusId,
  serial: isBuildingSerial,
};

/** Raw generators: valid, but not checked for uniqueness (use an IdentifierSource for that). */
export const generate = {
  iccid(rng: Rng, country: Country): string {
    const body = `89${ICCID_COUNTRY[country]}${rng.pick(ICCID_ISSUERS[country])}${rng.digits(12)}`;
    return body + luhnCheckDigit(body);
  },
  imsi(rng: Rng, country: Country): string {
    const net = IMSI_NETWORKS[country];
    return net.mcc + rng.pick(net.mncs) + rng.digits(10);
  },
  imei(rng: Rng): string {
    const body = rng.pick(IMEI_TACS) + rng.digits(6);
    return body + luhnCheckDigit(body);
  },
  msisdn(rng: Rng, country: Country): string {
    return country === 'DK'
      ? `+45${rng.int(2, 9)}${rng.digits(7)}`
      : `+467${rng.pick(SE_MOBILE_SECOND)}${rng.digits(7)}`;
  },
  wmbus(rng: Rng): string {
    return rng.pick(WMBUS_MANUFACTURERS) + rng.digits(8);
  },
  serial(rng: Rng): string {
    let out = 'BS-';
    for (let i = 0; i < 10; i++) out += ALNUM[rng.int(0, ALNUM.length - 1)];
    return out;
  },
} as const;

export interface SimIdentifiers {
  iccid: string;
  imsi: string;
  imei: string;
  msisdn: string;
}

export interface IdentifierSource {
  iccid(country: Country): string;
  imsi(country: Country): string;
  imei(): string;
  msisdn(country: Country): string;
  wmbus(): string;
  serial(): string;
  simIdentifiers(country: Country): SimIdentifiers;
  /** Mark values as taken (e.g. a fleet's registered identifiers) so they are never generated again. */
  reserve(values: Iterable<string>): void;
  /** Every value generated or reserved, in order. */
  used(): string[];
  /**
   * A source drawing from another random stream but sharing this one's record,
   * so values stay unique and recorded while each stream stays deterministic.
   */
  withRng(rng: Rng): IdentifierSource;
}

export function createIdentifierSource(rng: Rng, seen: Set<string> = new Set()): IdentifierSource {
  const fresh = (make: () => string): string => {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const value = make();
      if (!seen.has(value)) {
        seen.add(value);
        return value;
      }
    }
    throw new Error('identifier space exhausted');
  };
  const source: IdentifierSource = {
    iccid: (c) => fresh(() => generate.iccid(rng, c)),
    imsi: (c) => fresh(() => generate.imsi(rng, c)),
    imei: () => fresh(() => generate.imei(rng)),
    msisdn: (c) => fresh(() => generate.msisdn(rng, c)),
    wmbus: () => fresh(() => generate.wmbus(rng)),
    serial: () => fresh(() => generate.serial(rng)),
    simIdentifiers: (c) => ({
      iccid: source.iccid(c),
      imsi: source.imsi(c),
      imei: source.imei(),
      msisdn: source.msisdn(c),
    }),
    reserve(values) {
      for (const v of values) seen.add(v);
    },
    used: () => [...seen],
    withRng: (other) => createIdentifierSource(other, seen),
  };
  return source;
}

/** Identifier written the way people write it: digit groups separated by spaces. */
export function spaced(value: string, type: IdentifierType): string {
  const groups = (v: string, sizes: number[]): string => {
    const out: string[] = [];
    let at = 0;
    for (const size of sizes) {
      out.push(v.slice(at, at + size));
      at += size;
    }
    if (at < v.length) out.push(v.slice(at));
    return out.filter((g) => g.length > 0).join(' ');
  };
  switch (type) {
    case 'imei':
      return groups(value, [2, 6, 6, 1]);
    case 'msisdn':
      return value.startsWith('+45')
        ? groups(value, [3, 2, 2, 2, 2])
        : `${value.slice(0, 3)} ${groups(value.slice(3), [2, 3, 2, 2])}`;
    case 'iccid':
      return groups(value, [4, 4, 4, 4, 3]);
    case 'imsi':
      return groups(value, [3, 2, 10]);
    default:
      return value;
  }
}
