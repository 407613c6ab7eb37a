/**
 * Every telemetry message is validated against its kind's schema. zod builds
 * a result object, an issue list and a wrapper per field for each message —
 * at 25,000 msg/s a fifth of all the bytes Skjold allocates. This module
 * compiles each schema once into plain checks that accept the common case
 * without allocating, with the output zod would give. It never rejects: a
 * field it has no check for (an object, a transform, a check kind not listed
 * below) or a value it does not accept makes it refer the message to zod,
 * which decides and gives the error detail. The checks are read from the
 * schema itself, so schemas.ts stays the only place a bound is written, and
 * fast-accept.test.ts holds the two to the same answers on generated input.
 */
import type { z } from 'zod';

const REFER: unique symbol = Symbol('refer to zod');
type Check = (value: unknown) => unknown;

/** The schema's output for `raw`, or undefined when zod must decide (it may accept or reject). */
export type FastAccept = (raw: Record<string, unknown>) => Record<string, unknown> | undefined;

export function compileFastAccept(schema: z.ZodObject): FastAccept {
  const fields = Object.entries(schema.shape as Record<string, z.ZodType>).map(
    ([key, type]) => [key, compile(type)] as const,
  );
  return (raw) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      const [key, check] = fields[i] as (typeof fields)[number];
      const value = check(raw[key]);
      if (value === REFER) return undefined;
      // zod leaves an absent optional key out of its output.
      if (value !== undefined) out[key] = value;
    }
    return out;
  };
}

interface Def {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  // string formats (z.iso.datetime): the pattern is on the schema itself
  format?: string;
  pattern?: RegExp;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  entries?: Record<string, unknown>;
  options?: z.ZodType[];
}

interface CheckDef {
  check: string;
  value?: number;
  inclusive?: boolean;
  format?: string;
  pattern?: RegExp;
  maximum?: number;
  minimum?: number;
}

const refer: Check = () => REFER;

function compile(type: z.ZodType): Check {
  const def = (type as unknown as { def: Def }).def;
  switch (def.type) {
    case 'number':
      return compileNumber(def);
    case 'string':
      return compileString(def);
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? v : REFER);
    case 'enum': {
      const allowed = new Set(Object.values(def.entries ?? {}));
      return (v) => (allowed.has(v) ? v : REFER);
    }
    case 'optional': {
      const inner = compile(def.innerType as z.ZodType);
      return (v) => (v === undefined ? undefined : inner(v));
    }
    case 'default': {
      const inner = compile(def.innerType as z.ZodType);
      const fallback = def.defaultValue;
      // A default that is not a plain value (zod clones objects) is left to zod.
      if (fallback !== null && typeof fallback === 'object') return refer;
      return (v) => (v === undefined ? fallback : inner(v));
    }
    case 'union': {
      const options = (def.options ?? []).map(compile);
      return (v) => {
        for (let i = 0; i < options.length; i++) {
          const out = (options[i] as Check)(v);
          if (out !== REFER) return out;
        }
        return REFER;
      };
    }
    default:
      // Objects, pipes and transforms: zod's to decide.
      return refer;
  }
}

function compileNumber(def: Def): Check {
  let min = Number.NEGATIVE_INFINITY;
  let minInclusive = true;
  let max = Number.POSITIVE_INFINITY;
  let maxInclusive = true;
  let integer = false;
  // zod applies every check: keep the tightest bound on each side.
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check === 'greater_than' && typeof c.value === 'number') {
      if (c.value > min || (c.value === min && c.inclusive !== true)) {
        min = c.value;
        minInclusive = c.inclusive === true;
      }
    } else if (c.check === 'less_than' && typeof c.value === 'number') {
      if (c.value < max || (c.value === max && c.inclusive !== true)) {
        max = c.value;
        maxInclusive = c.inclusive === true;
      }
    } else if (c.check === 'number_format' && c.format === 'safeint') {
      integer = true;
    } else {
      return refer;
    }
  }
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return REFER;
    if (integer && !Number.isSafeInteger(v)) return REFER;
    if (minInclusive ? v < min : v <= min) return REFER;
    if (maxInclusive ? v > max : v >= max) return REFER;
    return v;
  };
}

const PATTERN_FORMATS = new Set(['regex', 'datetime']);

function compileString(def: Def): Check {
  const patterns: RegExp[] = [];
  let maxLength = Number.POSITIVE_INFINITY;
  let minLength = 0;
  // Only the formats zod checks with nothing but their pattern (others parse URLs, decode JWTs, …).
  const byPattern = (format: string | undefined, pattern: RegExp | undefined): boolean =>
    PATTERN_FORMATS.has(format ?? '') && pattern instanceof RegExp;
  if (def.format !== undefined) {
    if (!byPattern(def.format, def.pattern)) return refer;
    patterns.push(def.pattern as RegExp);
  }
  for (const { _zod } of def.checks ?? []) {
    const c = _zod.def;
    if (c.check === 'max_length' && typeof c.maximum === 'number') {
      maxLength = Math.min(maxLength, c.maximum);
    } else if (c.check === 'min_length' && typeof c.minimum === 'number') {
      minLength = Math.max(minLength, c.minimum);
    } else if (c.check === 'string_format' && byPattern(c.format, c.pattern)) {
      patterns.push(c.pattern as RegExp);
    } else {
      return refer;
    }
  }
  for (const p of patterns) {
    // A global or sticky pattern keeps state between tests; zod's answer would differ.
    if (p.global || p.sticky) return refer;
  }
  return (v) => {
    if (typeof v !== 'string' || v.length > maxLength || v.length < minLength) return REFER;
    for (let i = 0; i < patterns.length; i++) if (!(patterns[i] as RegExp).test(v)) return REFER;
    return v;
  };
}
