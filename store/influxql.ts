import { SkjoldError } from '../lib/errors.ts';

// InfluxQL's scanner ends a quoted string or identifier at a newline; there is no escape for it.
function assertOneLine(value: string, what: string): void {
  if (value.includes('\n') || value.includes('\r')) {
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', `${what} must not contain a line break`);
  }
}

/** A double-quoted InfluxQL identifier (database, user, measurement, tag or field key). */
export function quoteIdentifier(name: string): string {
  assertOneLine(name, 'identifier');
  return `"${name.replace(/[\\"]/g, '\\$&')}"`;
}

/** A single-quoted InfluxQL string literal (passwords, tag values in WHERE). */
export function quoteString(value: string): string {
  assertOneLine(value, 'string literal');
  return `'${value.replace(/[\\']/g, '\\$&')}'`;
}
