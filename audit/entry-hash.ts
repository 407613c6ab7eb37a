import { createHash, createHmac } from 'node:crypto';

/** The hash before the first entry. */
export const GENESIS = '0'.repeat(64);

/** What an entry's hash covers: everything but the hash, `detail` as stored (canonical JSON). */
export interface HashedFields {
  seq: number;
  at: string;
  actor: string;
  action: string;
  tenantId: string | null;
  target: string | null;
  detail: string;
  prevHash: string;
}

/** JSON with object keys sorted at every depth: one text per value, so one hash. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function body(e: HashedFields): string {
  return JSON.stringify([e.seq, e.at, e.actor, e.action, e.tenantId, e.target, e.detail, e.prevHash]);
}

/**
 * HMAC-SHA-256 under the audit key (key store domain `_audit`). Art. 5(2):
 * whoever can write to the registry but does not hold the key cannot make an
 * entry, or a whole rewritten chain, that verifies.
 */
export function entryMac(key: Buffer, e: HashedFields): string {
  return createHmac('sha256', key).update(body(e)).digest('hex');
}

/** Plain SHA-256, as chains were hashed before the audit key: only a sealed prefix may use it. */
export function legacyHash(e: HashedFields): string {
  return createHash('sha256').update(body(e)).digest('hex');
}
