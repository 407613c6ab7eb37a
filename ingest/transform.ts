import { byKind } from '../lib/device-kinds.ts';
import type { Point } from '../lib/point.ts';
import type { DeviceContext } from './device-context.ts';
import { compileFastAccept } from './fast-accept.ts';
import { snapToGrid } from './gps-grid.ts';
import { SCHEMAS } from './schemas.ts';

/** What ingest needs from the pseudonymizer (pseudonymizer/ implements it). */
export interface IngestPseudonymizer {
  /**
   * The value's pseudonym under the tenant's current key and under every key
   * version it has, or undefined if the value is no valid identifier of that type.
   */
  tryPseudonyms(
    tenantId: string,
    type: NamedIdentifier,
    value: string,
  ): { current: string; all: string[] } | undefined;
  /** Replaces every identifier found in free text by `[type:pseudonym]`. */
  pseudonymizeText(tenantId: string, text: string): { text: string; found: ReadonlyArray<{ type: string }> };
  /** ISO 3166 alpha-2 country of a mobile country code. */
  countryForMcc(mcc: string): string | undefined;
  /** Whether an unknown field's name says it holds an identifier. */
  isIdentifierFieldName(name: string): boolean;
}

export const NAMED_IDENTIFIERS = ['iccid', 'imsi', 'imei', 'imeisv', 'msisdn', 'wmbus'] as const;
export type NamedIdentifier = (typeof NAMED_IDENTIFIERS)[number];

export type RejectReason = 'json' | 'not_object' | 'schema';

export interface Accepted {
  ok: true;
  point: Point;
  /** Fields removed, by reason: unknown, identifier, location. */
  dropped: Record<'unknown' | 'identifier' | 'location', number>;
  /** Identifiers pseudonymised, with where they were found. */
  pseudonymised: Array<{ type: string; where: 'field' | 'text' }>;
  arrivalTime: boolean;
}

export interface Rejected {
  ok: false;
  reason: RejectReason;
  /** Field paths and zod issue codes only: never a value from the payload. */
  detail: string;
}

export interface TimePolicy {
  futureSkewMs: number;
  pastSkewMs: number;
}

/** Each kind's schema compiled for the common case; zod decides the rest (fast-accept.ts). */
const FAST_ACCEPT = byKind((kind) => compileFastAccept(SCHEMAS[kind]));

const INTEGER_FIELDS = ['seq', 'bytes_up', 'bytes_down', 'co2_ppm', 'occupancy'];

function deviceTimeMs(ts: string | number | undefined): number | undefined {
  if (ts === undefined) return undefined;
  const ms = typeof ts === 'number' ? ts : Date.parse(ts);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * One MQTT payload → one pseudonymised, tagged point, or a rejection with a
 * reason. Pure apart from the pseudonymizer: no I/O, no logging, no clock.
 */
export function transformMessage(
  ctx: DeviceContext,
  payload: Buffer,
  arrivalMs: number,
  pseudo: IngestPseudonymizer,
  time: TimePolicy,
): Accepted | Rejected {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'json', detail: 'payload is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'not_object', detail: 'payload must be a JSON object' };
  }
  const schema = SCHEMAS[ctx.kind];
  let data = FAST_ACCEPT[ctx.kind](raw as Record<string, unknown>);
  if (data === undefined) {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const detail = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.code}`)
        .join('; ');
      return { ok: false, reason: 'schema', detail };
    }
    data = parsed.data as Record<string, unknown>;
  }

  const dropped = { unknown: 0, identifier: 0, location: 0 };
  const pseudonymised: Accepted['pseudonymised'] = [];
  // Every message passes here: for-in walks the keys without building arrays of them.
  for (const key in raw) {
    if (key in schema.shape) continue;
    // Art. 5(1)(c): what the purpose does not need is not kept.
    if (pseudo.isIdentifierFieldName(key)) dropped.identifier++;
    else dropped.unknown++;
  }

  const fields: Point['fields'] = {};
  for (const key in data) {
    const value = data[key];
    if (value === undefined) continue;
    switch (key) {
      case 'ts':
      case 'gps':
      case 'mnc':
      case 'cell':
      case 'mcc':
        break;
      case 'note': {
        const { text, found } = pseudo.pseudonymizeText(ctx.tenantId, value as string);
        for (const f of found) pseudonymised.push({ type: f.type, where: 'text' });
        if (text.length > 0) fields.note = text;
        break;
      }
      case 'iccid':
      case 'imsi':
      case 'imei':
      case 'imeisv':
      case 'msisdn':
      case 'wmbus': {
        const p = pseudo.tryPseudonyms(ctx.tenantId, key, value as string);
        // An invalid identifier, or one registered for this device under any
        // key version, adds nothing: drop it (art. 5(1)(c)).
        if (p === undefined || p.all.some((x) => ctx.ownPseudonyms.has(x))) {
          dropped.identifier++;
        } else {
          fields[`${key}_pseudonym`] = p.current;
          pseudonymised.push({ type: key, where: 'field' });
        }
        break;
      }
      default:
        fields[key] = value as number | string | boolean;
    }
  }

  if (ctx.kind === 'sim_unit') {
    // The telecom seed keeps only the country a session was made in: MCC → country; MNC and cell go.
    const country = pseudo.countryForMcc(String(data.mcc));
    if (country) fields.country = country;
    dropped.location += 1 + (data.mnc === undefined ? 0 : 1) + (data.cell === undefined ? 0 : 1);
  }
  const gps = data.gps as { lat: number; lon: number } | undefined;
  if (gps) {
    if (ctx.gpsGridMeters === null) {
      dropped.location++;
    } else {
      // Art. 5(1)(c): the centre of the position's grid cell, never the position.
      const cell = snapToGrid(gps.lat, gps.lon, ctx.gpsGridMeters);
      fields.gps_lat = cell.lat;
      fields.gps_lon = cell.lon;
    }
  }

  const deviceMs = deviceTimeMs(data.ts as string | number | undefined);
  const plausible =
    deviceMs !== undefined &&
    deviceMs <= arrivalMs + time.futureSkewMs &&
    deviceMs >= arrivalMs - time.pastSkewMs;
  if (!plausible) fields.arrival_time = true;

  return {
    ok: true,
    point: {
      measurement: ctx.kind,
      tags: ctx.tags,
      fields,
      integerFields: INTEGER_FIELDS,
      timestampMs: plausible ? deviceMs : arrivalMs,
    },
    dropped,
    pseudonymised,
    arrivalTime: !plausible,
  };
}
