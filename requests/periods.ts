import { z } from 'zod';
import type { OccupancyPeriod, PeriodInput } from '../registry/registry.ts';

/** An ISO date (midnight UTC) or an ISO date-time with an offset. */
export const periodBound = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

/** Optional `from` and `to` of a link: absent `from` is the beginning of time, absent `to` still occupying. */
export const periodFields = {
  from: periodBound.optional(),
  to: periodBound.optional(),
};

export function toInstant(bound: string): Date {
  return new Date(/^\d{4}-\d{2}-\d{2}$/.test(bound) ? `${bound}T00:00:00Z` : bound);
}

export function toPeriod(input: { from?: string | undefined; to?: string | undefined }): PeriodInput {
  return {
    from: input.from === undefined ? null : toInstant(input.from),
    to: input.to === undefined ? null : toInstant(input.to),
  };
}

/** A time range [from, to) in milliseconds since the epoch; null is open-ended. */
export interface TimeWindow {
  from: number | null;
  to: number | null;
}

export function windowOf(p: Pick<OccupancyPeriod, 'from' | 'to'>): TimeWindow {
  return {
    from: p.from === null ? null : Date.parse(p.from),
    to: p.to === null ? null : Date.parse(p.to),
  };
}

const ns = (ms: number): string => `${BigInt(ms) * 1_000_000n}`;

/**
 * The InfluxQL time condition of a window (`time >= .. AND time < ..`), empty
 * when it is open at both ends. InfluxDB 1.x has no OR between time ranges,
 * so each window is its own statement.
 */
export function timeCondition(w: TimeWindow): string {
  return [
    ...(w.from === null ? [] : [`time >= ${ns(w.from)}`]),
    ...(w.to === null ? [] : [`time < ${ns(w.to)}`]),
  ].join(' AND ');
}

/** Each `device` tag value of the subject's devices with the subject's periods of that device. */
export function windowsByPseudonym(
  devices: ReadonlyArray<{
    pseudonyms: readonly string[];
    periods: ReadonlyArray<Pick<OccupancyPeriod, 'from' | 'to'>>;
  }>,
): Map<string, TimeWindow[]> {
  const windows = new Map<string, TimeWindow[]>();
  for (const d of devices) for (const p of d.pseudonyms) windows.set(p, d.periods.map(windowOf));
  return windows;
}
