import type { DeviceKind } from '../lib/device-kinds.ts';
import { SkjoldError } from '../lib/errors.ts';
import { quoteIdentifier, quoteString } from './influxql.ts';
import { isTelemetryField } from './telemetry-fields.ts';
import { WINDOW_PATTERN } from './telemetry-window.ts';

export const AGGREGATIONS = ['mean', 'sum', 'min', 'max', 'last'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** What a device pseudonym looks like (`v<n>.` + base32): anything else is refused before it reaches a query. */
export const PSEUDONYM_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

export interface SeriesStatement {
  kind: DeviceKind;
  field: string;
  agg: Aggregation;
  /** One device's `device` tag values: its login pseudonym under every key version. */
  pseudonyms: readonly string[];
  fromMs: number;
  toMs: number;
  window: string;
}

const regexLiteral = (values: readonly string[]) =>
  `/^(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$/`;

/**
 * One device's aggregated series as one InfluxQL statement. Every part is
 * checked here, not trusted from the caller: the measurement is a kind, the
 * field one of its allow-listed numeric fields, the aggregation one of five
 * function names, the window matches GROUP BY time()'s syntax, times are
 * integers, and pseudonyms are quoted or escaped. A device's pseudonyms
 * under every key version are one series (`device =~`), so a key rotation
 * does not split its chart and a window spanning the rotation aggregates
 * all its points.
 */
export function seriesStatement(s: SeriesStatement): string {
  if (!isTelemetryField(s.kind, s.field))
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', `${s.kind} has no numeric field ${s.field}`);
  if (!(AGGREGATIONS as readonly string[]).includes(s.agg))
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', `agg must be one of ${AGGREGATIONS.join(', ')}`);
  if (!WINDOW_PATTERN.test(s.window)) throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'window is malformed');
  if (!Number.isSafeInteger(s.fromMs) || !Number.isSafeInteger(s.toMs) || s.fromMs >= s.toMs)
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'from must be before to');
  if (s.pseudonyms.length === 0 || !s.pseudonyms.every((p) => PSEUDONYM_PATTERN.test(p)))
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'a series needs well-formed device pseudonyms');
  const device =
    s.pseudonyms.length === 1
      ? `"device" = ${quoteString(s.pseudonyms[0] ?? '')}`
      : `"device" =~ ${regexLiteral(s.pseudonyms)}`;
  return (
    `SELECT ${s.agg}(${quoteIdentifier(s.field)}) FROM ${quoteIdentifier(s.kind)}` +
    ` WHERE ${device} AND time >= ${s.fromMs}ms AND time < ${s.toMs}ms` +
    ` GROUP BY time(${s.window}) fill(null)`
  );
}
