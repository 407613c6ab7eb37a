/**
 * Crypto-shredding (docs/retention.md): destroying one of a tenant's old key
 * versions. Art. 17 and recital 26: once the key is gone and the registry no
 * longer maps that version's pseudonyms to devices, data under it cannot be
 * tied to a device or a person by anyone, the operator included. Refused for
 * the current version and while anything still needs the version
 * (key-needs.ts); every destruction is on the audit record.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { KeyStore } from '../pseudonymizer/keystore.ts';
import type { Registry } from '../registry/registry.ts';
import { drainedWithin, type Transport } from '../transport/transport.ts';
import {
  createKeyNeeds,
  describeNeeds,
  type KeyNeeds,
  type KeyNeedsDeps,
  nothingNeeds,
} from './key-needs.ts';

export interface KeyShredDeps extends KeyNeedsDeps {
  keyStore: Pick<KeyStore, 'versions' | 'currentVersion' | 'destroy'>;
  registry: Registry;
  audit: AuditLog;
  /** Points on their way to the store: waited for, so data under the version still in transit is counted. */
  transport?: Pick<Transport, 'drained'> | undefined;
}

export interface KeyShredReceipt {
  tenantId: string;
  version: number;
  /** Whether this call destroyed the key (false: it was gone already, e.g. removed from SKJOLD_KEYS). */
  keyDestroyed: boolean;
  /** Registry rows mapping the version's pseudonyms to devices, removed. */
  pseudonymsRemoved: number;
  /** Sealed values under the version, unreadable from now on. */
  shredded: { identifiers: number; specialCategoryNotes: number; legalHolds: number };
  auditSeq: number;
}

/** SKJOLD_ERR_KEY_IN_USE with what needs the version, for the API's answer. */
export class KeyInUseError extends SkjoldError {
  readonly needs: KeyNeeds;

  constructor(tenantId: string, version: number, needs: KeyNeeds) {
    super('SKJOLD_ERR_KEY_IN_USE', `tenant ${tenantId} key version ${version}: ${describeNeeds(needs)}`);
    this.needs = needs;
  }
}

export function createKeyShredder(deps: KeyShredDeps) {
  const { keyStore, registry, audit } = deps;
  const sql = registry.sql;
  const checker = createKeyNeeds(deps);

  async function countSealed(tenantId: string, version: number) {
    const like = `v${version}.%`;
    const count = async (query: string) =>
      Number((await sql.query<{ n: number | string }>(query, [tenantId, like]))[0]?.n ?? 0);
    return {
      identifiers: await count(
        'SELECT count(*) AS n FROM sealed_identifiers WHERE tenant_id = $1 AND sealed LIKE $2',
      ),
      specialCategoryNotes: await count(
        'SELECT count(*) AS n FROM subject_special_category WHERE tenant_id = $1 AND sealed_note LIKE $2',
      ),
      legalHolds: await count(
        'SELECT count(*) AS n FROM legal_holds WHERE tenant_id = $1 AND (reason LIKE $2 OR subject_sealed LIKE $2)',
      ),
    };
  }

  return {
    needs: checker.needs,

    /**
     * Destroys `version` of the tenant's key and its pseudonym mappings.
     * Throws SKJOLD_ERR_KEY_CURRENT, SKJOLD_ERR_KEY_IN_USE (KeyInUseError),
     * SKJOLD_ERR_KEY_VERSION (no such version, or nothing left of it) or
     * SKJOLD_ERR_KEYS_READ_ONLY (the key is in SKJOLD_KEYS: checks passed).
     */
    async destroy(
      tenantId: string,
      version: number,
      by: { actor: string; runId?: string } = { actor: 'operator' },
    ): Promise<KeyShredReceipt> {
      if (keyStore.currentVersion(tenantId) === version) {
        throw new SkjoldError(
          'SKJOLD_ERR_KEY_CURRENT',
          `version ${version} is tenant ${tenantId}'s current key; rotate first`,
        );
      }
      const held = keyStore.versions(tenantId).includes(version);
      const mapped = await checker.devicesUnder(tenantId, version);
      if (!held && mapped.size === 0) {
        throw new SkjoldError(
          'SKJOLD_ERR_KEY_VERSION',
          `tenant ${tenantId} has no key version ${version} (never made, or destroyed)`,
        );
      }
      await drainedWithin(deps.transport, 5 * 60_000);
      const needs = await checker.needs(tenantId, version);
      if (!nothingNeeds(needs)) throw new KeyInUseError(tenantId, version, needs);

      // The key first: should the registry step fail, running again finishes it.
      if (held) await keyStore.destroy(tenantId, version);
      const shredded = await countSealed(tenantId, version);
      const removed = await sql.query<{ deviceId: string }>(
        `DELETE FROM device_pseudonyms p USING devices d
         WHERE p.device_id = d.id AND d.tenant_id = $1 AND p.key_version = $2 RETURNING p.device_id AS "deviceId"`,
        [tenantId, version],
      );
      // Art. 5(2): on the record, with counts only — the destroyed pseudonyms are not repeated here.
      const entry = await audit.append({
        actor: by.actor,
        action: 'keys.destroy',
        tenantId,
        target: `v${version}`,
        detail: {
          version,
          keyDestroyed: held,
          pseudonymsRemoved: removed.length,
          shredded,
          ...(by.runId ? { runId: by.runId } : {}),
        },
      });
      return {
        tenantId,
        version,
        keyDestroyed: held,
        pseudonymsRemoved: removed.length,
        shredded,
        auditSeq: entry.seq,
      };
    },
  };
}

export type KeyShredder = ReturnType<typeof createKeyShredder>;
