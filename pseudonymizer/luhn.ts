import { SkjoldError } from '../lib/errors.ts';

/**
 * Luhn (ISO/IEC 7812-1 mod 10), the check digit of ICCIDs (ITU-T E.118) and
 * IMEIs (3GPP TS 23.003). Exported for the device simulator, which must
 * generate identifiers the validators accept.
 */

/** The check digit (0–9) to append to `payload`, a string of decimal digits. */
export function luhnCheckDigit(payload: string): number {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = payload.charCodeAt(payload.length - 1 - i) - 48;
    if (d < 0 || d > 9) throw new SkjoldError('SKJOLD_ERR_IDENTIFIER_INVALID', 'Luhn payload must be digits');
    // Doubled: every second digit counting leftwards from the one next to where the check digit goes.
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** True when `digits` (at least two decimal digits) ends in its correct Luhn check digit. */
export function luhnValid(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  return luhnCheckDigit(digits.slice(0, -1)) === digits.charCodeAt(digits.length - 1) - 48;
}
