import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { SkjoldError } from '../lib/errors.ts';
import type { KeyStore } from '../pseudonymizer/keystore.ts';
import { base32 } from '../pseudonymizer/pseudonymizer.ts';

type Keys = Pick<KeyStore, 'currentVersion' | 'versions' | 'secret'>;

const IV_BYTES = 12;

/**
 * What a sealed value under a destroyed key version reads as. Crypto-shredding
 * (docs/retention.md) makes it unreadable by design: exports, hold lists and
 * notes say so instead of failing.
 */
export const SHREDDED = '[shredded]';
const SEALED = /^v(\d+)\.([A-Za-z0-9_-]+)$/;
const TAG_BYTES = 16;

/**
 * AES-256-GCM sealing of what a tenant may see again but nobody else may
 * read: its devices' raw identifiers and special-category notes (art. 9,
 * art. 32(1)(a)). The key is derived with HKDF from the tenant's secret in the
 * key store, which lives apart from the registry that holds the sealed text:
 * a copy of the registry alone opens nothing.
 *
 * sealed = 'v' + key version + '.' + base64url(iv ‖ ciphertext ‖ tag)
 *
 * `context` (tenant, device, identifier type …) is bound as associated data,
 * so a sealed value moved to another row does not open.
 */
export function createSealer(keys: Keys) {
  const keyFor = (tenantId: string, version: number) =>
    Buffer.from(
      hkdfSync('sha256', keys.secret(tenantId, version), 'skjold-seal', `tenant-seal:${tenantId}`, 32),
    );

  return {
    seal(tenantId: string, context: string, plaintext: string): string {
      const version = keys.currentVersion(tenantId);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keyFor(tenantId, version), iv);
      cipher.setAAD(Buffer.from(`${tenantId}\n${context}`));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `v${version}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
    },

    unseal(tenantId: string, context: string, sealed: string): string {
      const m = SEALED.exec(sealed);
      if (!m) throw new SkjoldError('SKJOLD_ERR_KEYS', 'sealed value is malformed');
      const raw = Buffer.from(m[2] as string, 'base64url');
      try {
        const decipher = createDecipheriv(
          'aes-256-gcm',
          keyFor(tenantId, Number(m[1])),
          raw.subarray(0, IV_BYTES),
        );
        decipher.setAAD(Buffer.from(`${tenantId}\n${context}`));
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
        return Buffer.concat([
          decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch (err) {
        throw new SkjoldError('SKJOLD_ERR_KEYS', 'sealed value does not open under the tenant key', {
          cause: err,
        });
      }
    },

    /** True when `sealed` was sealed under a key version the tenant no longer has: crypto-shredded. */
    shredded(tenantId: string, sealed: string): boolean {
      const m = SEALED.exec(sealed);
      return m !== null && !keys.versions(tenantId).includes(Number(m[1]));
    },

    /** `unseal`, or SHREDDED for a value under a destroyed key version; any other failure still throws. */
    open(tenantId: string, context: string, sealed: string): string {
      return this.shredded(tenantId, sealed) ? SHREDDED : this.unseal(tenantId, context, sealed);
    },

    /**
     * A subject's keyed pseudonym: how requests and the audit log name a
     * subject without its ref (art. 4(5)). Same form as device pseudonyms,
     * in the tenant's domain under its current key version.
     */
    subjectPseudonym(tenantId: string, ref: string, version = keys.currentVersion(tenantId)): string {
      const mac = createHmac('sha256', keys.secret(tenantId, version)).update(`subject:${ref}`).digest();
      return `v${version}.${base32(mac.subarray(0, 16))}`;
    },

    /** The subject's pseudonym under every key version: finds its requests from before a rotation. */
    subjectPseudonyms(tenantId: string, ref: string): string[] {
      return keys.versions(tenantId).map((v) => this.subjectPseudonym(tenantId, ref, v));
    },
  };
}

export type Sealer = ReturnType<typeof createSealer>;
