/**
 * What devices put on the wire: well-formed readings, and the ways real
 * devices get it wrong (broken JSON, wrong schema, oversize packets, and
 * free-text notes that leak identifiers). Misbehaviour builders return bytes
 * or strings ready to publish, and name the variant so a test can tell which
 * rejection it expects.
 */
import type { DeviceKind } from '../lib/device-kinds.ts';
import type { SimDevice } from './fleet.ts';
import { type Country, type IdentifierSource, type IdentifierType, spaced } from './identifiers.ts';
import { type ModelState, type ModelValues, modelValues } from './models.ts';
import type { Rng } from './random.ts';

export const NOTE_MAX_CHARS = 200;

export type Reading = { ts: string; seq: number; note?: string } & ModelValues;

/** A well-formed reading of `device` at `time`. */
export function reading(
  device: Pick<SimDevice, 'kind'>,
  state: ModelState,
  time: Date | number,
  seq: number,
  note?: string,
): Reading {
  if (state.kind !== device.kind) throw new TypeError(`model state is for ${state.kind}, not ${device.kind}`);
  const ts = new Date(time).toISOString();
  const values = modelValues(state, time);
  return note === undefined ? { ts, seq, ...values } : { ts, seq, ...values, note };
}

export const MALFORMED_VARIANTS = [
  'truncated',
  'trailing_comma',
  'single_quotes',
  'nan',
  'unquoted_keys',
  'empty',
  'binary',
  'invalid_utf8',
] as const;
export type MalformedVariant = (typeof MALFORMED_VARIANTS)[number];

/** Bytes that are not valid JSON (or not valid UTF-8). */
export function malformedJson(rng: Rng, base: Reading): { variant: MalformedVariant; bytes: Buffer } {
  const variant = rng.pick(MALFORMED_VARIANTS);
  const json = JSON.stringify(base);
  const text = (s: string) => Buffer.from(s, 'utf8');
  switch (variant) {
    case 'truncated':
      return {
        variant,
        bytes: text(json.slice(0, Math.max(1, Math.floor(json.length * rng.float(0.2, 0.9))))),
      };
    case 'trailing_comma':
      return { variant, bytes: text(`${json.slice(0, -1)},}`) };
    case 'single_quotes':
      return { variant, bytes: text(json.replaceAll('"', "'")) };
    case 'nan':
      return { variant, bytes: text(`{"ts":"${base.ts}","seq":${base.seq},"value":NaN}`) };
    case 'unquoted_keys':
      return { variant, bytes: text(json.replace(/"(\w+)":/g, '$1:')) };
    case 'empty':
      return { variant, bytes: Buffer.alloc(0) };
    case 'binary': {
      const bytes = Buffer.alloc(rng.int(8, 64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
      bytes[0] = 0x00; // never accidentally a JSON value
      return { variant, bytes };
    }
    case 'invalid_utf8':
      return {
        variant,
        bytes: Buffer.concat([text(`{"ts":"${base.ts}","note":"`), Buffer.from([0xc3, 0x28]), text('"}')]),
      };
  }
}

export const WRONG_SCHEMA_VARIANTS = [
  'wrong_type',
  'out_of_range',
  'missing_field',
  'array',
  'null',
  'deeply_nested',
  'bad_timestamp',
  'negative_seq',
  'note_too_long',
] as const;
export type WrongSchemaVariant = (typeof WRONG_SCHEMA_VARIANTS)[number];

// One numeric field per kind to break, and a value outside its documented range.
const BREAKABLE: Record<DeviceKind, { field: string; outOfRange: number[] }> = {
  heat_meter: { field: 'flow_temp_c', outOfRange: [250, -40] },
  sim_unit: { field: 'rssi_dbm', outOfRange: [20, -200] },
  building_sensor: { field: 'humidity_pct', outOfRange: [140, -5] },
};

/** Valid JSON that does not match the schema for the device's kind. */
export function wrongSchema(
  rng: Rng,
  kind: DeviceKind,
  base: Reading,
): { variant: WrongSchemaVariant; body: string } {
  const variant = rng.pick(WRONG_SCHEMA_VARIANTS);
  const obj: Record<string, unknown> = { ...base };
  const { field, outOfRange } = BREAKABLE[kind];
  switch (variant) {
    case 'wrong_type':
      obj[field] = String(obj[field]);
      break;
    case 'out_of_range':
      obj[field] = rng.pick(outOfRange);
      break;
    case 'missing_field':
      delete obj[rng.pick(['ts', field])];
      break;
    case 'array':
      return { variant, body: JSON.stringify([base]) };
    case 'null':
      return { variant, body: 'null' };
    case 'deeply_nested': {
      // Built as text: JSON.stringify would recurse once per level.
      const depth = rng.int(200, 2000);
      const head = JSON.stringify({ ts: base.ts, seq: base.seq }).slice(0, -1);
      return { variant, body: `${head},"extra":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}` };
    }
    case 'bad_timestamp':
      obj.ts = rng.pick(['yesterday', '2024-13-45T99:00:00Z', '', String(Date.parse(base.ts))]);
      break;
    case 'negative_seq':
      obj.seq = -1 - base.seq;
      break;
    case 'note_too_long':
      obj.note = 'x'.repeat(NOTE_MAX_CHARS + rng.int(1, 500));
      break;
  }
  return { variant, body: JSON.stringify(obj) };
}

/**
 * A reading padded to exactly `bytes` bytes of UTF-8 (or as close as the
 * reading allows when `bytes` is smaller than the reading itself).
 */
export function oversize(base: Reading, bytes: number): string {
  const head = JSON.stringify({ ...base, padding: '' });
  const missing = Math.max(0, bytes - Buffer.byteLength(head));
  return `${head.slice(0, -2)}${'x'.repeat(missing)}"}`;
}

export interface HiddenNote {
  note: string;
  /** The identifiers hidden in the note, canonical form (as registered or validated). */
  identifiers: string[];
  /** The same identifiers as written in the note (spaces etc.), where that differs. */
  written: string[];
}

type Mint = (type: IdentifierType, country: Country) => { value: string; text: string };
type Template = (m: Mint, c: Country) => string;

const TEMPLATES: readonly Template[] = [
  (m, c) =>
    `customer asked to move SIM ${m('iccid', c).text} to unit ${m('serial', c).text}, call ${m('msisdn', c).text}`,
  (m, c) =>
    `meter ${m('wmbus', c).text} replaced after leak; old meter ${m('wmbus', c).text} returned to stock`,
  (m, c) => `modem swapped, new IMEI ${m('imei', c).text}`,
  (m, c) => `roaming alarm for IMSI ${m('imsi', c).text}, customer informed on ${m('msisdn', c).text}`,
  (m, c) =>
    c === 'DK'
      ? `kunden ringede fra ${m('msisdn', c).text} om måler ${m('wmbus', c).text}`
      : `kund på ${m('msisdn', c).text} vill flytta SIM-kort ${m('iccid', c).text}`,
  (m, c) => `ICCID:${m('iccid', c).text};IMEI:${m('imei', c).text}`,
  (m, c) => `sensor ${m('serial', c).text} moved to room 3.14, contact ${m('msisdn', c).text} before visit`,
];

/**
 * A free-text note hiding fresh, valid identifiers. They come from `source`,
 * so they are recorded among the raw identifiers the simulator used and never
 * collide with a registered device's.
 */
export function hiddenIdentifierNote(rng: Rng, source: IdentifierSource, country?: Country): HiddenNote {
  const identifiers: string[] = [];
  const written: string[] = [];
  const mint: Mint = (type, c) => {
    const value = fresh(source, type, c);
    const text =
      (type === 'msisdn' || type === 'imei' || type === 'iccid') && rng.chance(0.6)
        ? spaced(value, type)
        : value;
    identifiers.push(value);
    if (text !== value) written.push(text);
    return { value, text };
  };
  const note = rng.pick(TEMPLATES)(mint, country ?? rng.pick(['DK', 'SE'] as const));
  return { note: note.slice(0, NOTE_MAX_CHARS), identifiers, written };
}

function fresh(source: IdentifierSource, type: IdentifierType, country: Country): string {
  switch (type) {
    case 'iccid':
      return source.iccid(country);
    case 'imsi':
      return source.imsi(country);
    case 'imei':
      return source.imei();
    case 'msisdn':
      return source.msisdn(country);
    case 'wmbus':
      return source.wmbus();
    case 'serial':
      return source.serial();
  }
}
