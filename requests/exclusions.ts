import type { SqlClient } from '../registry/sql.ts';

/**
 * Devices linked to a restricted subject (art. 18) — and, for a purpose, to a
 * subject who objected to it or withdrew consent (art. 21, art. 7(3)). Every
 * view that is not the tenant's own leaves these out.
 */
export const RESTRICTED_DEVICE_IDS = `SELECT sd.device_id FROM subject_devices sd JOIN subject_restrictions r
  ON r.tenant_id = sd.tenant_id AND r.subject_ref = sd.subject_ref`;

export interface ExcludedDevice {
  tenantId: string;
  deviceId: string;
  /** The device's `device` tag values under every key version. */
  pseudonyms: string[];
}

export async function excludedDevices(
  sql: SqlClient,
  options: { tenantId?: string; purpose?: string } = {},
): Promise<ExcludedDevice[]> {
  const params: unknown[] = [options.purpose ?? null, options.tenantId ?? null];
  const rows = await sql.query<{ tenantId: string; deviceId: string; pseudonym: string | null }>(
    `WITH excluded AS (
       SELECT sd.tenant_id, sd.device_id FROM subject_devices sd
       WHERE EXISTS (SELECT 1 FROM subject_restrictions r
                     WHERE r.tenant_id = sd.tenant_id AND r.subject_ref = sd.subject_ref)
          OR EXISTS (SELECT 1 FROM subject_objections o
                     WHERE o.tenant_id = sd.tenant_id AND o.subject_ref = sd.subject_ref AND o.purpose = $1)
     )
     SELECT DISTINCT e.tenant_id AS "tenantId", e.device_id AS "deviceId", p.pseudonym
     FROM excluded e JOIN devices d ON d.id = e.device_id
     LEFT JOIN device_pseudonyms p ON p.device_id = d.id AND p.id_type = d.login_type
     WHERE $2::text IS NULL OR e.tenant_id = $2
     ORDER BY 1, 2, 3`,
    params,
  );
  const byDevice = new Map<string, ExcludedDevice>();
  for (const r of rows) {
    const d = byDevice.get(r.deviceId) ?? { tenantId: r.tenantId, deviceId: r.deviceId, pseudonyms: [] };
    if (r.pseudonym) d.pseudonyms.push(r.pseudonym);
    byDevice.set(r.deviceId, d);
  }
  return [...byDevice.values()];
}
