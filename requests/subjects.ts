import { randomUUID } from 'node:crypto';
import { SkjoldError } from '../lib/errors.ts';
import type { Pseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import {
  DEVICE_IDENTIFIER_TYPES,
  type DeviceIdentifierType,
  normaliseIdentifier,
} from '../registry/enrolment.ts';
import type { Device, PeriodInput, Registry } from '../registry/registry.ts';
import type { Sealer } from './sealing.ts';

/** The purpose the operator's own fleet statistics serve (art. 6(1)(f)); objections name it. */
export const OPERATOR_STATISTICS = 'operator_statistics';

export interface SpecialCategoryNote {
  id: string;
  category: string;
  note: string;
  consent: { givenAt: string; text: string };
  createdAt: string;
}

/**
 * A device of the tenant's with its login pseudonyms under every key version
 * (the `device` tag values) and the subject's occupancy periods of it.
 */
export interface DeviceSeries {
  device: Device;
  pseudonyms: string[];
  periods: Array<{ from: string | null; to: string | null }>;
}

/**
 * The registry side of a subject's rights: links (with the identifiers the
 * tenant gave, sealed), restriction, objections, special-category notes, and
 * which devices every non-tenant view must leave out.
 */
export function createSubjects(deps: {
  registry: Registry;
  pseudonymizer: Pseudonymizer;
  sealer: Sealer;
  /** Told after links or objections change, so ingest stops (or resumes) storing at once. */
  changed?: () => Promise<void>;
}) {
  const { registry, pseudonymizer, sealer } = deps;
  const changed = deps.changed ?? (() => Promise.resolve());
  const sql = registry.sql;

  /** Not found and another tenant's look the same (no existence oracle). */
  async function require(tenantId: string, ref: string): Promise<void> {
    const [row] = await sql.query('SELECT 1 FROM subjects WHERE tenant_id = $1 AND ref = $2', [
      tenantId,
      ref,
    ]);
    if (!row) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'subject');
  }

  async function loginPseudonyms(device: Device): Promise<string[]> {
    return (await registry.pseudonymsOf(device.id))
      .filter((p) => p.idType === device.loginType)
      .map((p) => p.pseudonym);
  }

  /** Finds the tenant's device from identifiers (all key versions) or its id; another tenant's is never found. */
  async function findDevice(
    tenantId: string,
    input: {
      deviceId?: string | undefined;
      identifiers?: Partial<Record<DeviceIdentifierType, string>> | undefined;
    },
  ): Promise<{ device: Device; given: Array<[DeviceIdentifierType, string]> }> {
    const given: Array<[DeviceIdentifierType, string]> = [];
    for (const type of DEVICE_IDENTIFIER_TYPES) {
      const raw = input.identifiers?.[type];
      if (raw === undefined) continue;
      let value: string;
      try {
        value = normaliseIdentifier(type, raw);
      } catch {
        // An invalid identifier finds no device: the same answer as an unknown one.
        throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'device');
      }
      given.push([type, value]);
    }
    let device: Device | undefined;
    if (input.deviceId) device = await registry.getDevice(tenantId, input.deviceId);
    for (const [type, value] of given) {
      const pseudonyms = pseudonymizer.allVersions(tenantId, type, value).map((p) => p.pseudonym);
      const found = await registry.findByPseudonyms(tenantId, pseudonyms);
      const match = found.length === 1 ? found[0] : undefined;
      // Every identifier given must name the same one device, and only as its own identifier of that type.
      const rows = match ? await registry.pseudonymsOf(match.id) : [];
      const own = rows.some((r) => r.idType === type && pseudonyms.includes(r.pseudonym));
      if (!match || !own || (device && device.id !== match.id))
        throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'device');
      device = match;
    }
    if (!device) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'device');
    return { device, given };
  }

  return {
    require,
    loginPseudonyms,
    findDevice,

    async devicesOf(tenantId: string, ref: string): Promise<DeviceSeries[]> {
      const devices = await registry.subjectDevices(tenantId, ref);
      const periods = await registry.subjectPeriods(tenantId, ref);
      return Promise.all(
        devices.map(async (device) => ({
          device,
          pseudonyms: await loginPseudonyms(device),
          periods: periods.filter((p) => p.deviceId === device.id).map(({ from, to }) => ({ from, to })),
        })),
      );
    },

    /**
     * Links a subject to a device named by its identifiers (or id), for the
     * period [from, to) (open-ended without them). One occupant at a time: an
     * overlapping period is refused, naming the occupant by pseudonym only.
     * The identifiers are kept only sealed, for the tenant's own exports.
     */
    async link(
      tenantId: string,
      ref: string,
      input: {
        deviceId?: string | undefined;
        identifiers?: Partial<Record<DeviceIdentifierType, string>> | undefined;
      },
      period: PeriodInput = { from: null, to: null },
    ): Promise<Device> {
      const { device, given } = await findDevice(tenantId, input);
      await registry.linkSubjectDevice(tenantId, ref, device.id, period, (other) =>
        sealer.subjectPseudonym(tenantId, other),
      );
      for (const [type, value] of given) {
        await sql.query(
          `INSERT INTO sealed_identifiers (tenant_id, device_id, id_type, sealed) VALUES ($1, $2, $3, $4)
           ON CONFLICT (device_id, id_type) DO UPDATE SET sealed = EXCLUDED.sealed`,
          [tenantId, device.id, type, sealer.seal(tenantId, `device:${device.id}:${type}`, value)],
        );
      }
      // The subject's objections now reach this device's points too.
      await changed();
      return device;
    },

    /** Art. 16: removes a wrong link. The device's sealed identifiers stay with the device. */
    async unlink(tenantId: string, ref: string, deviceId: string): Promise<void> {
      const rows = await sql.query(
        'DELETE FROM subject_devices WHERE tenant_id = $1 AND subject_ref = $2 AND device_id = $3 RETURNING device_id',
        [tenantId, ref, deviceId],
      );
      if (rows.length === 0) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'device');
      await changed();
    },

    /** The raw identifiers the tenant gave for a device, unsealed: only for that tenant's own export. */
    async identifiersOf(tenantId: string, deviceId: string): Promise<Record<string, string>> {
      const rows = await sql.query<{ idType: string; sealed: string }>(
        'SELECT id_type AS "idType", sealed FROM sealed_identifiers WHERE tenant_id = $1 AND device_id = $2 ORDER BY id_type',
        [tenantId, deviceId],
      );
      return Object.fromEntries(
        rows.map((r) => [r.idType, sealer.unseal(tenantId, `device:${deviceId}:${r.idType}`, r.sealed)]),
      );
    },

    async restrict(tenantId: string, ref: string, at: Date): Promise<void> {
      await sql.query(
        'INSERT INTO subject_restrictions (tenant_id, subject_ref, since) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [tenantId, ref, at.toISOString()],
      );
    },

    async lift(tenantId: string, ref: string): Promise<boolean> {
      const rows = await sql.query(
        'DELETE FROM subject_restrictions WHERE tenant_id = $1 AND subject_ref = $2 RETURNING subject_ref',
        [tenantId, ref],
      );
      return rows.length > 0;
    },

    async object(
      tenantId: string,
      ref: string,
      purpose: string,
      basis: 'objection' | 'consent_withdrawal',
      at: Date,
    ): Promise<void> {
      await sql.query(
        `INSERT INTO subject_objections (tenant_id, subject_ref, purpose, basis, since) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, subject_ref, purpose, basis) DO NOTHING`,
        [tenantId, ref, purpose, basis, at.toISOString()],
      );
      // Art. 21(1), art. 7(3): ingest stops storing for the purpose before the tenant is answered.
      await changed();
    },

    /**
     * The subject withdrew its objection, or gave consent again, for the
     * purpose: storage resumes for points received from now on.
     */
    async liftObjection(
      tenantId: string,
      ref: string,
      purpose: string,
      basis: 'objection' | 'consent_withdrawal',
    ): Promise<boolean> {
      const rows = await sql.query(
        `DELETE FROM subject_objections WHERE tenant_id = $1 AND subject_ref = $2 AND purpose = $3 AND basis = $4
         RETURNING purpose`,
        [tenantId, ref, purpose, basis],
      );
      await changed();
      return rows.length > 0;
    },

    async status(tenantId: string, ref: string) {
      const [restricted] = await sql.query<{ since: string }>(
        'SELECT since::text FROM subject_restrictions WHERE tenant_id = $1 AND subject_ref = $2',
        [tenantId, ref],
      );
      const objections = await sql.query<{ purpose: string; basis: string; since: string }>(
        `SELECT purpose, basis, since::text FROM subject_objections WHERE tenant_id = $1 AND subject_ref = $2
         ORDER BY purpose, basis`,
        [tenantId, ref],
      );
      return { restricted: restricted ? { since: restricted.since } : null, objections };
    },

    /** Art. 9(2)(a): only with an explicit consent record; the note is sealed at rest. */
    async addSpecialCategory(
      tenantId: string,
      ref: string,
      input: { category: string; note: string; consent?: { givenAt: string; text: string } | undefined },
      at: Date,
    ): Promise<{ id: string }> {
      if (!input.consent?.text || !input.consent.givenAt)
        throw new SkjoldError(
          'SKJOLD_ERR_CONSENT_REQUIRED',
          'special-category data needs an explicit consent record',
        );
      const id = `spc-${randomUUID()}`;
      await sql.query(
        `INSERT INTO subject_special_category
           (id, tenant_id, subject_ref, category, sealed_note, consent_given_at, consent_text, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          id,
          tenantId,
          ref,
          input.category,
          sealer.seal(tenantId, `special:${id}`, input.note),
          input.consent.givenAt,
          input.consent.text,
          at.toISOString(),
        ],
      );
      return { id };
    },

    async specialCategory(tenantId: string, ref: string): Promise<SpecialCategoryNote[]> {
      const rows = await sql.query<{
        id: string;
        category: string;
        sealed: string;
        givenAt: Date | string;
        text: string;
        createdAt: Date | string;
      }>(
        `SELECT id, category, sealed_note AS sealed, consent_given_at AS "givenAt", consent_text AS text,
           created_at AS "createdAt"
         FROM subject_special_category WHERE tenant_id = $1 AND subject_ref = $2 ORDER BY created_at, id`,
        [tenantId, ref],
      );
      return rows.map((r) => ({
        id: r.id,
        category: r.category,
        note: sealer.unseal(tenantId, `special:${r.id}`, r.sealed),
        consent: { givenAt: new Date(r.givenAt).toISOString(), text: r.text },
        createdAt: new Date(r.createdAt).toISOString(),
      }));
    },
  };
}

export type Subjects = ReturnType<typeof createSubjects>;
