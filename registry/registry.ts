import type { DeviceKind } from '../lib/device-kinds.ts';
import { isSkjoldError, SkjoldError } from '../lib/errors.ts';
import type { LoginType } from './enrolment.ts';
import type { SqlClient } from './sql.ts';

export type Role = 'controller' | 'processor';
export type LegalBasis =
  | 'contract'
  | 'consent'
  | 'legal_obligation'
  | 'vital_interests'
  | 'public_task'
  | 'legitimate_interests';
export type Jurisdiction = 'DK' | 'SE';

export interface Tenant {
  id: string;
  name: string;
}

export interface Contract {
  tenantId: string;
  id: string;
  role: Role;
  purpose: string;
  legalBasis: LegalBasis;
  startsOn: string;
  endsOn: string | null;
  jurisdiction: Jurisdiction;
  /** Art. 5(1)(c): GPS is kept only snapped to a grid of this many metres (ingest/gps-grid.ts); null: dropped. */
  gpsGridMeters: number | null;
}

export interface Device {
  id: string;
  tenantId: string;
  contractId: string;
  kind: DeviceKind;
  loginType: LoginType;
  credentialHash: string;
  disabled: boolean;
  /** Building or postcode area the tenant chose: the group retention anonymises by. */
  area: string | null;
}

/** A subject's occupancy of a device: [from, to), ISO instants; null is open-ended. */
export interface OccupancyPeriod {
  deviceId: string;
  from: string | null;
  to: string | null;
}

export interface PeriodInput {
  from: Date | null;
  to: Date | null;
}

const iso = (v: Date | string | null): string | null => (v === null ? null : new Date(v).toISOString());

/** "from 2026-01-01T00:00:00.000Z to 2026-03-15T00:00:00.000Z", open ends named as such. */
export function describePeriod(p: { from: string | null; to: string | null }): string {
  return `from ${p.from ?? 'the beginning'} ${p.to ? `to ${p.to}` : 'onwards'}`;
}

export interface PseudonymRow {
  keyVersion: number;
  idType: string;
  pseudonym: string;
}

const CONTRACT_COLUMNS = `tenant_id AS "tenantId", id, role, purpose, legal_basis AS "legalBasis",
  starts_on::text AS "startsOn", ends_on::text AS "endsOn", jurisdiction, gps_grid_m AS "gpsGridMeters"`;
const DEVICE_COLUMNS = `d.id, d.tenant_id AS "tenantId", d.contract_id AS "contractId", d.kind,
  d.login_type AS "loginType", d.credential_hash AS "credentialHash", (d.disabled_at IS NOT NULL) AS disabled,
  d.area`;

/** PostgreSQL's SQLSTATEs the registry turns into Skjold errors. */
function translate(err: unknown, what: string): never {
  const code = (err as { code?: string }).code;
  if (code === '23505') throw new SkjoldError('SKJOLD_ERR_CONFLICT', what, { cause: err });
  if (code === '23503')
    throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `${what}: a referenced record`, { cause: err });
  if (code === '23514' || code === '22007' || code === '22008')
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', what, { cause: err });
  throw new SkjoldError('SKJOLD_ERR_REGISTRY', what, { cause: err });
}

/**
 * Tenants, contracts, devices and subjects: the registry every other part asks
 * "who is this and on whose behalf do we hold it?". Backend-neutral SQL.
 */
export function createRegistry(sql: SqlClient) {
  return {
    sql,

    async createTenant(t: Tenant): Promise<Tenant> {
      await sql
        .query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [t.id, t.name])
        .catch((e) => translate(e, `tenant ${t.id}`));
      return t;
    },

    async getTenant(id: string): Promise<Tenant | undefined> {
      const rows = await sql.query<Tenant>('SELECT id, name FROM tenants WHERE id = $1', [id]);
      return rows[0];
    },

    listTenants(): Promise<Tenant[]> {
      return sql.query<Tenant>('SELECT id, name FROM tenants ORDER BY id');
    },

    async createContract(c: Contract): Promise<Contract> {
      await sql
        .query(
          `INSERT INTO contracts (tenant_id, id, role, purpose, legal_basis, starts_on, ends_on, jurisdiction, gps_grid_m)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            c.tenantId,
            c.id,
            c.role,
            c.purpose,
            c.legalBasis,
            c.startsOn,
            c.endsOn,
            c.jurisdiction,
            c.gpsGridMeters,
          ],
        )
        .catch((e) => translate(e, `contract ${c.id}`));
      return c;
    },

    async getContract(tenantId: string, id: string): Promise<Contract | undefined> {
      const rows = await sql.query<Contract>(
        `SELECT ${CONTRACT_COLUMNS} FROM contracts WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id],
      );
      return rows[0];
    },

    /** Sets (or clears) the day a contract ends; retention counts from it. */
    async setContractEnd(tenantId: string, id: string, endsOn: string | null): Promise<Contract | undefined> {
      const rows = await sql
        .query<{ id: string }>(
          'UPDATE contracts SET ends_on = $3 WHERE tenant_id = $1 AND id = $2 RETURNING id',
          [tenantId, id, endsOn],
        )
        .catch((e) => translate(e, `contract ${id}`));
      return rows.length > 0 ? this.getContract(tenantId, id) : undefined;
    },

    listContracts(tenantId: string): Promise<Contract[]> {
      return sql.query<Contract>(
        `SELECT ${CONTRACT_COLUMNS} FROM contracts WHERE tenant_id = $1 ORDER BY id`,
        [tenantId],
      );
    },

    /** Registers a device with its login hash, credential hash and pseudonyms, atomically. */
    async createDevice(d: {
      id: string;
      tenantId: string;
      contractId: string;
      kind: DeviceKind;
      loginHash: string;
      loginType: LoginType;
      credentialHash: string;
      pseudonyms: PseudonymRow[];
      area?: string | null;
    }): Promise<void> {
      await sql
        .transaction(async (tx) => {
          await tx.query(
            `INSERT INTO devices (id, tenant_id, contract_id, kind, login_hash, login_type, credential_hash, area)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            [
              d.id,
              d.tenantId,
              d.contractId,
              d.kind,
              d.loginHash,
              d.loginType,
              d.credentialHash,
              d.area ?? null,
            ],
          );
          for (const p of d.pseudonyms) {
            await tx.query(
              'INSERT INTO device_pseudonyms (device_id, key_version, id_type, pseudonym) VALUES ($1, $2, $3, $4)',
              [d.id, p.keyVersion, p.idType, p.pseudonym],
            );
          }
        })
        .catch((e) => translate(e, 'device'));
    },

    /** The broker's lookup: a device and its contract from the keyed hash of its MQTT username. */
    async findByLoginHash(loginHash: string): Promise<{ device: Device; contract: Contract } | undefined> {
      const rows = await sql.query<Device>(
        `SELECT ${DEVICE_COLUMNS} FROM devices d WHERE d.login_hash = $1`,
        [loginHash],
      );
      const device = rows[0];
      if (!device) return undefined;
      const contract = await this.getContract(device.tenantId, device.contractId);
      if (!contract) throw new SkjoldError('SKJOLD_ERR_REGISTRY', `device ${device.id} has no contract`);
      return { device, contract };
    },

    async getDevice(tenantId: string, id: string): Promise<Device | undefined> {
      const rows = await sql.query<Device>(
        `SELECT ${DEVICE_COLUMNS} FROM devices d WHERE d.tenant_id = $1 AND d.id = $2`,
        [tenantId, id],
      );
      return rows[0];
    },

    listDevices(tenantId: string): Promise<Device[]> {
      return sql.query<Device>(
        `SELECT ${DEVICE_COLUMNS} FROM devices d WHERE d.tenant_id = $1 ORDER BY d.id`,
        [tenantId],
      );
    },

    /** Records pseudonyms under a newer key version; existing rows are left alone. */
    async addPseudonyms(deviceId: string, rows: PseudonymRow[]): Promise<void> {
      for (const p of rows) {
        await sql.query(
          `INSERT INTO device_pseudonyms (device_id, key_version, id_type, pseudonym) VALUES ($1, $2, $3, $4)
           ON CONFLICT (device_id, key_version, id_type) DO NOTHING`,
          [deviceId, p.keyVersion, p.idType, p.pseudonym],
        );
      }
    },

    pseudonymsOf(deviceId: string): Promise<PseudonymRow[]> {
      return sql.query<PseudonymRow>(
        `SELECT key_version AS "keyVersion", id_type AS "idType", pseudonym FROM device_pseudonyms
         WHERE device_id = $1 ORDER BY key_version, id_type`,
        [deviceId],
      );
    },

    /** Devices of one tenant carrying any of these pseudonyms (all key versions). */
    async findByPseudonyms(tenantId: string, pseudonyms: readonly string[]): Promise<Device[]> {
      if (pseudonyms.length === 0) return [];
      return sql.query<Device>(
        `SELECT DISTINCT ${DEVICE_COLUMNS} FROM devices d JOIN device_pseudonyms p ON p.device_id = d.id
         WHERE d.tenant_id = $1 AND p.pseudonym = ANY($2::text[]) ORDER BY d.id`,
        [tenantId, pseudonyms],
      );
    },

    async createSubject(tenantId: string, ref: string): Promise<void> {
      await sql
        .query('INSERT INTO subjects (tenant_id, ref) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
          tenantId,
          ref,
        ])
        .catch((e) => translate(e, 'subject'));
    },

    /**
     * Links a subject to one of the tenant's devices for a period [from, to)
     * (null: from the beginning of time / still occupying). A device has one
     * occupant at a time: a period that overlaps another subject's is refused,
     * naming that period and the subject only as `nameSubject` gives it (a
     * pseudonym, never the ref). The same link made again is a no-op.
     */
    async linkSubjectDevice(
      tenantId: string,
      ref: string,
      deviceId: string,
      period: PeriodInput = { from: null, to: null },
      nameSubject: (ref: string) => string = () => 'another subject',
    ): Promise<void> {
      const from = period.from?.toISOString() ?? null;
      const to = period.to?.toISOString() ?? null;
      if (from !== null && to !== null && to <= from)
        throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'a period ends after it starts');
      await sql
        .transaction(async (tx) => {
          // The device row's lock orders concurrent links to one device: the check and the insert are one step.
          const [device] = await tx.query(
            'SELECT id FROM devices WHERE id = $1 AND tenant_id = $2 FOR UPDATE',
            [deviceId, tenantId],
          );
          if (!device) return;
          const overlapping = await tx.query<{ subjectRef: string; from: Date | null; to: Date | null }>(
            `SELECT subject_ref AS "subjectRef", valid_from AS "from", valid_to AS "to" FROM subject_devices
             WHERE device_id = $1 AND tstzrange(valid_from, valid_to) && tstzrange($2::timestamptz, $3::timestamptz)
             ORDER BY valid_from NULLS FIRST`,
            [deviceId, from, to],
          );
          const [other] = overlapping;
          if (other) {
            const same =
              overlapping.length === 1 &&
              other.subjectRef === ref &&
              iso(other.from) === from &&
              iso(other.to) === to;
            if (same) return;
            throw new SkjoldError(
              'SKJOLD_ERR_CONFLICT',
              `device ${deviceId} is occupied ${describePeriod({ from: iso(other.from), to: iso(other.to) })} by ${nameSubject(other.subjectRef)}`,
            );
          }
          // The subject is created with its first link, so a refused link leaves no empty subject behind.
          await tx.query('INSERT INTO subjects (tenant_id, ref) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
            tenantId,
            ref,
          ]);
          await tx.query(
            `INSERT INTO subject_devices (tenant_id, subject_ref, device_id, valid_from, valid_to)
             VALUES ($1, $2, $3, $4, $5)`,
            [tenantId, ref, deviceId, from, to],
          );
        })
        .catch((e) => (isSkjoldError(e) ? Promise.reject(e) : translate(e, 'subject link')));
    },

    /**
     * A move-out: closes the subject's open period on the device at `at`.
     * Undefined when the subject has no open period there.
     */
    async closeSubjectPeriod(
      tenantId: string,
      ref: string,
      deviceId: string,
      at: Date,
    ): Promise<OccupancyPeriod | undefined> {
      const [open] = await sql.query<{ from: Date | null }>(
        `SELECT valid_from AS "from" FROM subject_devices
         WHERE tenant_id = $1 AND subject_ref = $2 AND device_id = $3 AND valid_to IS NULL`,
        [tenantId, ref, deviceId],
      );
      if (!open) return undefined;
      if (open.from !== null && at.getTime() <= new Date(open.from).getTime())
        throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'a move-out comes after the move-in');
      await sql
        .query(
          `UPDATE subject_devices SET valid_to = $4
           WHERE tenant_id = $1 AND subject_ref = $2 AND device_id = $3 AND valid_to IS NULL`,
          [tenantId, ref, deviceId, at.toISOString()],
        )
        .catch((e) => translate(e, 'subject link'));
      return { deviceId, from: iso(open.from), to: at.toISOString() };
    },

    /** The subject's periods on the tenant's devices, by device and start. */
    async subjectPeriods(tenantId: string, ref: string): Promise<OccupancyPeriod[]> {
      const rows = await sql.query<{ deviceId: string; from: Date | null; to: Date | null }>(
        `SELECT device_id AS "deviceId", valid_from AS "from", valid_to AS "to" FROM subject_devices
         WHERE tenant_id = $1 AND subject_ref = $2 ORDER BY device_id, valid_from NULLS FIRST`,
        [tenantId, ref],
      );
      return rows.map((r) => ({ deviceId: r.deviceId, from: iso(r.from), to: iso(r.to) }));
    },

    /** Every subject's periods on one of the tenant's devices, oldest first. */
    async devicePeriods(
      tenantId: string,
      deviceId: string,
    ): Promise<Array<OccupancyPeriod & { subjectRef: string }>> {
      const rows = await sql.query<{ subjectRef: string; from: Date | null; to: Date | null }>(
        `SELECT subject_ref AS "subjectRef", valid_from AS "from", valid_to AS "to" FROM subject_devices
         WHERE tenant_id = $1 AND device_id = $2 ORDER BY valid_from NULLS FIRST`,
        [tenantId, deviceId],
      );
      return rows.map((r) => ({ subjectRef: r.subjectRef, deviceId, from: iso(r.from), to: iso(r.to) }));
    },

    subjectDevices(tenantId: string, ref: string): Promise<Device[]> {
      return sql.query<Device>(
        `SELECT ${DEVICE_COLUMNS} FROM devices d
         WHERE d.tenant_id = $1 AND d.id IN (SELECT device_id FROM subject_devices WHERE tenant_id = $1 AND subject_ref = $2)
         ORDER BY d.id`,
        [tenantId, ref],
      );
    },

    close: () => sql.close(),
  };
}

export type Registry = ReturnType<typeof createRegistry>;
