import { createHash, timingSafeEqual } from 'node:crypto';
import type { DeviceContext } from '../ingest/device-context.ts';
import type { Pseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import type { Enrolment } from '../registry/enrolment.ts';
import type { Registry } from '../registry/registry.ts';
import { hashSecret, verifySecret } from './credentials.ts';

export interface AuthenticatorDeps {
  registry: Registry;
  enrolment: Enrolment;
  pseudonymizer: Pseudonymizer;
  /** How long a verified credential is remembered, in ms. */
  cacheMs: number;
  now?: () => number;
}

interface CacheEntry {
  ctx: DeviceContext;
  secretDigest: Buffer;
  expires: number;
}

export type AuthResult =
  | { ok: true; ctx: DeviceContext }
  | { ok: false; reason: 'unknown_device' | 'bad_secret' | 'disabled' | 'decommissioned' };

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Checks a device's MQTT credentials against the slow hash in the registry and
 * resolves its DeviceContext. Successes are cached (keyed by login hash, with
 * a digest of the secret compared in constant time) so reconnect storms do not
 * cost a scrypt each; the cache entry is dropped when the tenant's key rotates.
 */
export function createAuthenticator(deps: AuthenticatorDeps) {
  const { registry, enrolment, pseudonymizer, cacheMs } = deps;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();
  // Devices decommissioned while this process runs: refused even by a check
  // that read the registry just before the decommission landed.
  const revoked = new Set<string>();
  // Verified against when the login is unknown, so "no such device" and "wrong
  // secret" take the same time and the broker does not reveal which logins exist.
  const decoy = hashSecret('decoy-secret-that-matches-nothing');

  async function resolve(
    login: string,
    loginHash: string,
  ): Promise<
    { ctx: DeviceContext; disabled: boolean; decommissioned: boolean; credentialHash: string } | undefined
  > {
    const found = await registry.findByLoginHash(loginHash);
    if (!found) return undefined;
    const { device, contract } = found;
    const keyVersion = pseudonymizer.currentVersion(device.tenantId);
    const devicePseudonym = pseudonymizer.pseudonym(device.tenantId, device.loginType, login, keyVersion);
    const rows = await registry.pseudonymsOf(device.id);
    // Art. 4(5) with rotation: record the login's pseudonym under the new key
    // the first time the device connects after a rotation, so data written
    // under every version stays findable.
    if (!rows.some((r) => r.keyVersion === keyVersion && r.idType === device.loginType)) {
      const row = { keyVersion, idType: device.loginType, pseudonym: devicePseudonym };
      await registry.addPseudonyms(device.id, [row]);
      rows.push(row);
    }
    const ctx: DeviceContext = {
      tenantId: device.tenantId,
      deviceId: device.id,
      kind: device.kind,
      devicePseudonym,
      keyVersion,
      // Every version: an identifier registered under key 1 is still the device's own under key 2.
      ownPseudonyms: new Set(rows.map((r) => r.pseudonym)),
      // Frozen: every point of the device shares this object, and the store encodes it once (line-protocol.ts).
      tags: Object.freeze({
        tenant: device.tenantId,
        device: devicePseudonym,
        contract: contract.id,
        role: contract.role,
        purpose: contract.purpose,
        legal_basis: contract.legalBasis,
      }),
      gpsGridMeters: contract.gpsGridMeters,
    };
    return {
      ctx,
      disabled: device.disabled,
      decommissioned: device.decommissionedAt !== null || revoked.has(device.id),
      credentialHash: device.credentialHash,
    };
  }

  return {
    async authenticate(login: string, secret: string): Promise<AuthResult> {
      const loginHash = await enrolment.loginHash(login);
      const digest = sha256(secret);
      const hit = cache.get(loginHash);
      if (
        hit &&
        hit.expires > now() &&
        pseudonymizer.currentVersion(hit.ctx.tenantId) === hit.ctx.keyVersion &&
        !revoked.has(hit.ctx.deviceId)
      ) {
        if (timingSafeEqual(hit.secretDigest, digest)) return { ok: true, ctx: hit.ctx };
      }
      const resolved = await resolve(login, loginHash);
      if (!resolved) {
        await verifySecret(secret, await decoy);
        return { ok: false, reason: 'unknown_device' };
      }
      if (!(await verifySecret(secret, resolved.credentialHash))) return { ok: false, reason: 'bad_secret' };
      if (resolved.decommissioned) return { ok: false, reason: 'decommissioned' };
      if (resolved.disabled) return { ok: false, reason: 'disabled' };
      cache.set(loginHash, { ctx: resolved.ctx, secretDigest: digest, expires: now() + cacheMs });
      return { ok: true, ctx: resolved.ctx };
    },

    /**
     * A decommissioned device: its cached credential is dropped and it is
     * refused from now on, whatever SKJOLD_AUTH_CACHE_SECONDS says.
     */
    revoke(deviceId: string): void {
      revoked.add(deviceId);
      for (const [key, entry] of cache) if (entry.ctx.deviceId === deviceId) cache.delete(key);
    },

    /** Forgets cached credentials (after a device is disabled or its secret changes). */
    clear(): void {
      cache.clear();
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
