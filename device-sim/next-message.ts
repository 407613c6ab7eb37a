/**
 * Decides what a device sends next: a well-formed reading (sometimes with a
 * note hiding identifiers) or, with the configured probabilities, malformed
 * JSON, a wrong-schema object or an oversize payload. Pure given the rng, so
 * the runner only deals with the network.
 */
import type { SimDevice } from './fleet.ts';
import type { Country, IdentifierSource } from './identifiers.ts';
import type { ModelState } from './models.ts';
import {
  type HiddenNote,
  hiddenIdentifierNote,
  malformedJson,
  oversize,
  type Reading,
  reading,
  wrongSchema,
} from './payloads.ts';
import type { Rng } from './random.ts';

export interface MisbehaveOptions {
  /** Number of devices that connect with a wrong password. */
  wrongPassword?: number;
  /** Fractions of messages (0..1) of each kind of misbehaviour. */
  malformedJson?: number;
  wrongSchema?: number;
  oversize?: number;
  /** Size in bytes of the oversize payloads (required for `oversize`). */
  oversizeBytes?: number;
  /** Fraction of well-formed readings carrying a note that hides identifiers. */
  hiddenIdentifiers?: number;
}

export type NextMessage =
  | { type: 'reading'; payload: Reading; body: string; hidden?: HiddenNote }
  | {
      type: 'misbehaved';
      kind: 'malformed_json' | 'wrong_schema' | 'oversize';
      variant?: string;
      body: string | Buffer;
    };

export function nextMessage(
  device: Pick<SimDevice, 'kind' | 'identifiers'>,
  state: ModelState,
  time: number,
  seq: number,
  rng: Rng,
  ids: IdentifierSource,
  mis: MisbehaveOptions,
): NextMessage {
  const roll = rng.next();
  const malformedP = mis.malformedJson ?? 0;
  const schemaP = malformedP + (mis.wrongSchema ?? 0);
  const oversizeP = schemaP + (mis.oversizeBytes ? (mis.oversize ?? 0) : 0);
  if (roll < malformedP) {
    const m = malformedJson(rng, reading(device, state, time, seq));
    return { type: 'misbehaved', kind: 'malformed_json', variant: m.variant, body: m.bytes };
  }
  if (roll < schemaP) {
    const w = wrongSchema(rng, device.kind, reading(device, state, time, seq));
    return { type: 'misbehaved', kind: 'wrong_schema', variant: w.variant, body: w.body };
  }
  if (roll < oversizeP) {
    const body = oversize(reading(device, state, time, seq), mis.oversizeBytes ?? 0);
    return { type: 'misbehaved', kind: 'oversize', body };
  }
  if (mis.hiddenIdentifiers && rng.chance(mis.hiddenIdentifiers)) {
    const hidden = hiddenIdentifierNote(rng, ids, homeCountry(device));
    const payload = reading(device, state, time, seq, hidden.note);
    return { type: 'reading', payload, body: JSON.stringify(payload), hidden };
  }
  const payload = reading(device, state, time, seq);
  return { type: 'reading', payload, body: JSON.stringify(payload) };
}

/** A SIM's home country from its IMSI; other kinds do not say. */
function homeCountry(device: Pick<SimDevice, 'identifiers'>): Country | undefined {
  const imsi = device.identifiers.imsi;
  if (!imsi) return undefined;
  return imsi.startsWith('240') ? 'SE' : 'DK';
}
