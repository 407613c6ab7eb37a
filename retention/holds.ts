import { randomUUID } from 'node:crypto';
import { SkjoldError } from '../lib/errors.ts';
import type { SqlClient } from '../registry/sql.ts';

export type HoldScope = 'tenant' | 'subject' | 'device';

export interface LegalHold {
  id: string;
  tenantId: string;
  scope: HoldScope;
  /** Subject ref or device id; null for a tenant hold. */
  target: string | null;
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
  /** subject ref → its subject holds (also listed per device in byDevice). */
  bySubject: Map<string, LegalHold[]>;
  /** True when the device is held by any hold. */
  covers(deviceId: string): boolean;
  /** Every hold covering the device, tenant holds first. */
  holdsFor(deviceId: string): LegalHold[];
}

const COLUMNS = `id, tenant_id AS "tenantId", scope, target, reason, until::text AS until,
  released_at::text AS "releasedAt"`;

/**
 * Legal holds: a tenant, subject or device whose data must not be deleted or
 * anonymised (litigation, an authority's request). Retention and erasure both
 * ask `held()` and name every hold they obeyed in their plans and receipts.
 */
export function createLegalHolds(sql: SqlClient) {
  const active = (tenantId: string, day: string) =>
    sql.query<LegalHold>(
      `SELECT ${COLUMNS} FROM legal_holds
       WHERE tenant_id = $1 AND released_at IS NULL AND (until IS NULL OR until >= $2::date) ORDER BY id`,
      [tenantId, day],
    );

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
      try {
        await sql.query(
          'INSERT INTO legal_holds (id, tenant_id, scope, target, reason, until) VALUES ($1, $2, $3, $4, $5, $6)',
          [id, h.tenantId, h.scope, target, h.reason, h.until ?? null],
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
      const [row] = await sql.query<LegalHold>(
        `SELECT ${COLUMNS} FROM legal_holds WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id],
      );
      return row;
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
    active(tenantId: string, at: Date): Promise<LegalHold[]> {
      return active(tenantId, at.toISOString().slice(0, 10));
    },

    list(tenantId: string): Promise<LegalHold[]> {
      return sql.query<LegalHold>(
        `SELECT ${COLUMNS} FROM legal_holds WHERE tenant_id = $1 ORDER BY created_at, id`,
        [tenantId],
      );
    },

    /** What the holds in force on `at` cover, resolved to device ids. */
    async held(tenantId: string, at: Date): Promise<HeldDevices> {
      const holds = await active(tenantId, at.toISOString().slice(0, 10));
      const tenantHolds = holds.filter((h) => h.scope === 'tenant');
      const byDevice = new Map<string, LegalHold[]>();
      const bySubject = new Map<string, LegalHold[]>();
      const add = <K>(map: Map<K, LegalHold[]>, key: K, h: LegalHold) => {
        const list = map.get(key);
        if (list) list.push(h);
        else map.set(key, [h]);
      };
      for (const h of holds) {
        if (h.scope === 'device' && h.target) add(byDevice, h.target, h);
        if (h.scope === 'subject' && h.target) {
          add(bySubject, h.target, h);
          const devices = await sql.query<{ deviceId: string }>(
            'SELECT device_id AS "deviceId" FROM subject_devices WHERE tenant_id = $1 AND subject_ref = $2',
            [tenantId, h.target],
          );
          for (const d of devices) add(byDevice, d.deviceId, h);
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
