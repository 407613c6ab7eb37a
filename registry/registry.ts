import type { DeviceKind } from '../lib/device-kinds.ts';
import { SkjoldError } from '../lib/errors.ts';
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

    async linkSubjectDevice(tenantId: string, ref: string, deviceId: string): Promise<void> {
      await sql
        .query(
          `INSERT INTO subject_devices (tenant_id, subject_ref, device_id)
           SELECT $1, $2, id FROM devices WHERE id = $3 AND tenant_id = $1 ON CONFLICT DO NOTHING`,
          [tenantId, ref, deviceId],
        )
        .catch((e) => translate(e, 'subject link'));
    },

    subjectDevices(tenantId: string, ref: string): Promise<Device[]> {
      return sql.query<Device>(
        `SELECT ${DEVICE_COLUMNS} FROM devices d JOIN subject_devices s ON s.device_id = d.id
         WHERE s.tenant_id = $1 AND s.subject_ref = $2 ORDER BY d.id`,
        [tenantId, ref],
      );
    },

    close: () => sql.close(),
  };
}

export type Registry = ReturnType<typeof createRegistry>;
