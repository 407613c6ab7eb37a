/**
 * How much one device can move a published aggregate: each device's value per
 * group (its mean over the bucket) is clamped to a bound per field before it is
 * summed. The bound is the range ingest accepts (ingest/schemas.ts) where the
 * schema has one, so clamping changes nothing ingest let through; registers
 * and counters, which the schemas leave open-ended, get a generous bound
 * stated here. The width of the bound is the sensitivity the noise is
 * calibrated to (retention/noise.ts; docs/retention.md).
 */
import type { z } from 'zod';
import { SCHEMAS, STORED_FIELDS } from '../ingest/schemas.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import { SkjoldError } from '../lib/errors.ts';

export interface Bound {
  lo: number;
  hi: number;
}

/** Fields whose schema has no upper bound (cumulative registers and counters). */
const OPEN_ENDED: Partial<Record<DeviceKind, Record<string, Bound>>> = {
  // An eight-digit energy register in kWh; a volume register in m³.
  heat_meter: { energy_kwh: { lo: 0, hi: 10_000_000 }, volume_m3: { lo: 0, hi: 1_000_000 } },
  // Cumulative data counters: 1 TB.
  sim_unit: { bytes_up: { lo: 0, hi: 1e12 }, bytes_down: { lo: 0, hi: 1e12 } },
};

/** The [min, max] a zod number (or a union holding one) accepts; infinite where it has no bound. */
function schemaRange(schema: z.ZodType): Bound {
  const s = schema as { minValue?: number | null; maxValue?: number | null; options?: z.ZodType[] };
  if (s.options) {
    const ranges = s.options.map(schemaRange).filter((r) => Number.isFinite(r.lo) || Number.isFinite(r.hi));
    return ranges[0] ?? { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY };
  }
  return { lo: s.minValue ?? Number.NEGATIVE_INFINITY, hi: s.maxValue ?? Number.POSITIVE_INFINITY };
}

function boundsOf(kind: DeviceKind): Record<string, Bound> {
  const shape = SCHEMAS[kind].shape as Record<string, z.ZodType>;
  const out: Record<string, Bound> = {};
  for (const [field, type] of Object.entries(STORED_FIELDS[kind])) {
    if (type === 'string') continue;
    const bound = OPEN_ENDED[kind]?.[field] ?? (shape[field] ? schemaRange(shape[field]) : undefined);
    if (!bound || !Number.isFinite(bound.lo) || !Number.isFinite(bound.hi)) {
      // A new numeric field needs a bound before it can be published.
      throw new SkjoldError('SKJOLD_ERR_INTERNAL', `no contribution bound for ${kind}.${field}`);
    }
    out[field] = bound;
  }
  return out;
}

/** Per kind, per numeric stored field: the clamp of one device's contribution. */
export const CONTRIBUTION_BOUNDS: Readonly<Record<DeviceKind, Readonly<Record<string, Bound>>>> = {
  heat_meter: boundsOf('heat_meter'),
  sim_unit: boundsOf('sim_unit'),
  building_sensor: boundsOf('building_sensor'),
};

export const clamp = (v: number, { lo, hi }: Bound): number => Math.min(hi, Math.max(lo, v));
