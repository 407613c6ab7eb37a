import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { isSkjoldError, SkjoldError } from '../lib/errors.ts';
import { type FindingType, redactText } from './detect.ts';
import { canonicalise, PSEUDONYM_TYPES, type PseudonymType } from './identifiers.ts';
import type { KeyStore } from './keystore.ts';

/**
 * Keyed pseudonyms. Art. 4(5): pseudonymisation — without the tenant's secret
 * (kept apart, keystore.ts) a pseudonym cannot be tied back to its SIM or
 * meter, not even by trying every ICCID: an unkeyed hash of a 19-digit
 * number with a check digit would fall to brute force in hours.
 *
 * pseudonym = 'v' + key version + '.' + base32(HMAC-SHA-256(secret, type ':' canonical value)[0..16])
 *
 * - 128 bits: collisions need ~2^64 identifiers per tenant; 26 characters.
 * - The type is inside the MAC, so an IMSI and an MSISDN with the same digits differ.
 * - The version is in the clear so data written under an old key can still be
 *   looked up (`allVersions`) and a rotation is visible in the data.
 */

export interface PseudonymizerOptions {
  /** Most pseudonyms remembered (LRU); 0 turns the cache off. */
  cacheSize?: number;
}

export interface Pseudonymizer {
  /** Pseudonym of `value` under the tenant's key `version` (default: current). Throws on an invalid value. */
  pseudonym(tenantId: string, type: PseudonymType, value: string, version?: number): string;
  /** Like `pseudonym`, but undefined for a value that is no valid `type`. Key errors still throw. */
  tryPseudonym(tenantId: string, type: PseudonymType, value: string, version?: number): string | undefined;
  /** The value's pseudonym under every key version the tenant has: finds a subject's data from before a rotation. */
  allVersions(
    tenantId: string,
    type: PseudonymType,
    value: string,
  ): Array<{ version: number; pseudonym: string }>;
  currentVersion(tenantId: string): number;
  /** Replaces each identifier in `text` by `[type:pseudonym]` under the current key. */
  pseudonymizeText(tenantId: string, text: string): { text: string; found: Array<{ type: FindingType }> };
  /** Cache size only: what is cached is identifiers. */
  toJSON(): { cache: { size: number; limit: number } };
}

const DEFAULT_CACHE_SIZE = 100_000;
// Longer inputs (a huge digit run in free text) are computed, not cached, so
// the cache's memory stays bounded by entries × this.
const MAX_CACHED_VALUE_LENGTH = 128;
const PSEUDONYM_BYTES = 16;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const KNOWN_TYPES: ReadonlySet<string> = new Set(PSEUDONYM_TYPES);

/** RFC 4648 base32, lowercase, unpadded: case-insensitive safe, fits InfluxDB tags and URLs as is. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = ((acc << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32.charAt((acc >>> bits) & 31);
    }
  }
  if (bits > 0) out += BASE32.charAt((acc << (5 - bits)) & 31);
  return out;
}

type KeySource = Pick<KeyStore, 'currentVersion' | 'versions' | 'secret'> &
  Partial<Pick<KeyStore, 'onDestroy'>>;

export function createPseudonymizer(keyStore: KeySource, options: PseudonymizerOptions = {}): Pseudonymizer {
  const limit = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  // Keys hold raw identifiers: this Map is reachable from nothing but the
  // closures below, so it cannot be serialised, inspected or logged by accident.
  const cache = new Map<string, string>();
  // A destroyed version's pseudonyms must not outlive its key here: the cache
  // maps raw identifiers to them, which is exactly the link shredding removes.
  keyStore.onDestroy?.((tenantId, version) => {
    const prefix = `${version}|`;
    const tenantPart = `|${tenantId.length}:${tenantId}|`;
    for (const key of [...cache.keys()]) {
      if (key.startsWith(prefix) && key.includes(tenantPart)) cache.delete(key);
    }
  });

  function pseudonym(tenantId: string, type: PseudonymType, value: string, version?: number): string {
    if (!KNOWN_TYPES.has(type))
      throw new SkjoldError('SKJOLD_ERR_IDENTIFIER_INVALID', 'unknown identifier type');
    const v = version ?? keyStore.currentVersion(tenantId);
    if (!Number.isSafeInteger(v) || v < 1)
      throw new SkjoldError('SKJOLD_ERR_KEY_VERSION', 'key versions are 1, 2, …');
    // Type and version cannot contain '|' and the tenant id is length-prefixed,
    // so no two (tenant, version, type, value) share a cache key.
    const cacheable = limit > 0 && typeof value === 'string' && value.length <= MAX_CACHED_VALUE_LENGTH;
    const key = cacheable ? `${v}|${type}|${tenantId.length}:${tenantId}|${value}` : '';
    if (cacheable) {
      const hit = cache.get(key);
      if (hit !== undefined) {
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
    }
    const canonical = canonicalise(type, value);
    const mac = createHmac('sha256', keyStore.secret(tenantId, v)).update(`${type}:${canonical}`).digest();
    const result = `v${v}.${base32(mac.subarray(0, PSEUDONYM_BYTES))}`;
    if (cacheable) {
      if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
      cache.set(key, result);
    }
    return result;
  }

  const pseudonymizer: Pseudonymizer = {
    pseudonym,
    tryPseudonym(tenantId, type, value, version) {
      try {
        return pseudonym(tenantId, type, value, version);
      } catch (err) {
        if (isSkjoldError(err, 'SKJOLD_ERR_IDENTIFIER_INVALID')) return undefined;
        throw err;
      }
    },
    allVersions: (tenantId, type, value) =>
      keyStore
        .versions(tenantId)
        .map((version) => ({ version, pseudonym: pseudonym(tenantId, type, value, version) })),
    currentVersion: (tenantId) => keyStore.currentVersion(tenantId),
    pseudonymizeText(tenantId, text) {
      const version = keyStore.currentVersion(tenantId);
      return redactText(text, (type, value) => `[${type}:${pseudonym(tenantId, type, value, version)}]`);
    },
    toJSON: () => ({ cache: { size: cache.size, limit } }),
  };
  Object.defineProperty(pseudonymizer, inspect.custom, {
    value: () => `Pseudonymizer ${inspect(pseudonymizer.toJSON())}`,
  });
  return pseudonymizer;
}
