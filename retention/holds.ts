import { randomUUID } from 'node:crypto';
import { SkjoldError } from '../lib/errors.ts';
import type { SqlClient } from '../registry/sql.ts';
import { type HoldSealer, openHoldText, type SealedHoldText, sealHoldText } from './hold-sealing.ts';

export type HoldScope = 'tenant' | 'subject' | 'device';

export interface LegalHold {
  id: string;
  tenantId: string;
  scope: HoldScope;
  /** Subject ref or device id; null for a tenant hold. Stored pseudonymised (subject) and sealed. */
  target: string | null;
  /** In clear here; stored sealed under the tenant's key. */
  reason: string;
  /** YYYY-MM-DD, inclusive; null until released. */
  until: string | null;
  releasedAt: string | null;
}

/** Which of a tenant's devices are held on a day, and by which holds. */
export interface HeldDevices {
  /** Tenant-wide holds: everything of the tenant is held. */
  tenantHolds: LegalHold[];
  /** device id → the subject and device holds that cover it. */
  byDevice: Map<string, LegalHold[]>;
  /** Subject pseudonym (any key version, as the hold was made) → its subject holds (also listed per device in byDevice). */
  bySubject: Map<string, LegalHold[]>;
  /** True when the device is held by any hold. */
  covers(deviceId: string): boolean;
  /** Every hold covering the device, tenant holds first. */
  holdsFor(deviceId: string): LegalHold[];
}

const COLUMNS = `id, tenant_id AS "tenantId", scope, target, subject_sealed AS "subjectSealed", reason,
  until::text AS until, released_at::text AS "releasedAt"`;

type StoredHold = Omit<LegalHold, 'target' | 'reason'> & SealedHoldText;

const VERSION = /^v(\d+)\./;

/**
 * Legal holds: a tenant, subject or device whose data must not be deleted or
 * anonymised (litigation, an authority's request). Retention and erasure both
 * ask `held()` and name every hold they obeyed in their plans and receipts.
 */
export function createLegalHolds(sql: SqlClient, sealer: HoldSealer) {
  const open = ({ subjectSealed, ...row }: StoredHold): LegalHold => ({
    ...row,
    ...openHoldText(sealer, row.tenantId, row.id, { ...row, subjectSealed }),
  });
  const activeRows = (tenantId: string, day: string) =>
    sql.query<StoredHold>(
      `SELECT ${COLUMNS} FROM legal_holds
       WHERE tenant_id = $1 AND released_at IS NULL AND (until IS NULL OR until >= $2::date) ORDER BY id`,
      [tenantId, day],
    );

  /**
   * The refs of the tenant's subjects whose pseudonym is one of `pseudonyms`.
   * A hold names its subject by the pseudonym under the key version current
   * when it was made; each subject's pseudonym is computed under that version.
   * Should that version's key be gone, this throws: a hold that cannot be
   * resolved stops retention and erasure rather than let them delete what it
   * holds (art. 17(3)(e)).
   */
  async function subjectsNamed(
    tenantId: string,
    pseudonyms: ReadonlySet<string>,
  ): Promise<Map<string, string>> {
    const versions = new Set([...pseudonyms].map((p) => Number(VERSION.exec(p)?.[1])));
    const refs = await sql.query<{ ref: string }>('SELECT ref FROM subjects WHERE tenant_id = $1', [
      tenantId,
    ]);
    const found = new Map<string, string>();
    for (const { ref } of refs) {
      for (const v of versions) {
        const p = sealer.subjectPseudonym(tenantId, ref, v);
        if (pseudonyms.has(p)) found.set(p, ref);
      }
    }
    return found;
  }

  return {
    async create(h: {
      tenantId: string;
      scope: HoldScope;
      target?: string | null;
      reason: string;
      until?: string | null;
    }) {
      const target = h.scope === 'tenant' ? null : (h.target ?? null);
      if (h.scope !== 'tenant' && !target) {
        throw new SkjoldError('SKJOLD_ERR_VALIDATION', `a ${h.scope} hold needs a target`);
      }
      if (h.scope === 'device') {
        const [d] = await sql.query('SELECT 1 FROM devices WHERE tenant_id = $1 AND id = $2', [
          h.tenantId,
          target,
        ]);
        if (!d) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'device');
      }
      if (h.scope === 'subject') {
        const [s] = await sql.query('SELECT 1 FROM subjects WHERE tenant_id = $1 AND ref = $2', [
          h.tenantId,
          target,
        ]);
        if (!s) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'subject');
      }
      const id = `hold-${randomUUID()}`;
      const sealed = sealHoldText(sealer, h.tenantId, id, { scope: h.scope, target, reason: h.reason });
      try {
        await sql.query(
          `INSERT INTO legal_holds (id, tenant_id, scope, target, subject_sealed, reason, until)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [id, h.tenantId, h.scope, sealed.target, sealed.subjectSealed, sealed.reason, h.until ?? null],
        );
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === '23503') throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'tenant', { cause: err });
        if (code === '23514' || code === '22007' || code === '22008') {
          throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'legal hold', { cause: err });
        }
        throw new SkjoldError('SKJOLD_ERR_REGISTRY', 'legal hold', { cause: err });
      }
      return (await this.get(h.tenantId, id)) as LegalHold;
    },

    async get(tenantId: string, id: string): Promise<LegalHold | undefined> {
      const [row] = await sql.query<StoredHold>(
        `SELECT ${COLUMNS} FROM legal_holds WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id],
      );
      return row && open(row);
    },

    async release(tenantId: string, id: string, at: Date): Promise<LegalHold> {
      const rows = await sql.query<{ id: string }>(
        'UPDATE legal_holds SET released_at = $3 WHERE tenant_id = $1 AND id = $2 AND released_at IS NULL RETURNING id',
        [tenantId, id, at.toISOString()],
      );
      if (rows.length === 0) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'active legal hold');
      return (await this.get(tenantId, id)) as LegalHold;
    },

    /** Holds in force on `at` (not released, `until` not passed). */
    async active(tenantId: string, at: Date): Promise<LegalHold[]> {
      return (await activeRows(tenantId, at.toISOString().slice(0, 10))).map(open);
    },

    async list(tenantId: string): Promise<LegalHold[]> {
      const rows = await sql.query<StoredHold>(
        `SELECT ${COLUMNS} FROM legal_holds WHERE tenant_id = $1 ORDER BY created_at, id`,
        [tenantId],
      );
      return rows.map(open);
    },

    /** What the holds in force on `at` cover, resolved to device ids. */
    async held(tenantId: string, at: Date): Promise<HeldDevices> {
      const rows = await activeRows(tenantId, at.toISOString().slice(0, 10));
      const holds = rows.map((row) => ({ row, hold: open(row) }));
      const tenantHolds = holds.filter((h) => h.row.scope === 'tenant').map((h) => h.hold);
      const byDevice = new Map<string, LegalHold[]>();
      const bySubject = new Map<string, LegalHold[]>();
      const add = <K>(map: Map<K, LegalHold[]>, key: K, h: LegalHold) => {
        const list = map.get(key);
        if (list) list.push(h);
        else map.set(key, [h]);
      };
      const subjectPseudonyms = new Set(
        rows.flatMap((r) => (r.scope === 'subject' && r.target !== null ? [r.target] : [])),
      );
      const refs = subjectPseudonyms.size > 0 ? await subjectsNamed(tenantId, subjectPseudonyms) : new Map();
      for (const { row, hold } of holds) {
        if (row.scope === 'device' && row.target) add(byDevice, row.target, hold);
        if (row.scope === 'subject' && row.target) {
          add(bySubject, row.target, hold);
          const ref = refs.get(row.target);
          if (ref === undefined) continue;
          const devices = await sql.query<{ deviceId: string }>(
            'SELECT device_id AS "deviceId" FROM subject_devices WHERE tenant_id = $1 AND subject_ref = $2',
            [tenantId, ref],
          );
          for (const d of devices) add(byDevice, d.deviceId, hold);
        }
      }
      return {
        tenantHolds,
        byDevice,
        bySubject,
        covers: (deviceId) => tenantHolds.length > 0 || byDevice.has(deviceId),
        holdsFor: (deviceId) => [...tenantHolds, ...(byDevice.get(deviceId) ?? [])],
      };
    },
  };
}

export type LegalHolds = ReturnType<typeof createLegalHolds>;
