import type { TelemetryResult } from './telemetry-query.ts';

/**
 * A text cell a spreadsheet will not run: one that starts with `=`, `+`,
 * `-`, `@`, tab or carriage return is prefixed with `'` (OWASP's CSV
 * injection advice), then quoted when it holds a comma, quote or line break.
 */
export function csvTextCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** A number cell: numbers are written as numbers (a negative RSSI stays a number); no value is empty. */
const numberCell = (value: number | null) => (value === null || !Number.isFinite(value) ? '' : String(value));

/** `time,device,value`, one row per point, device by device, oldest first; CRLF as RFC 4180 has it. */
export function telemetryCsv(result: TelemetryResult): string {
  const lines = ['time,device,value'];
  for (const s of result.series) {
    const device = csvTextCell(s.device);
    for (const [time, value] of s.points)
      lines.push(`${new Date(time).toISOString()},${device},${numberCell(value)}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}
