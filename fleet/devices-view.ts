import type { DeviceKind } from '../lib/device-kinds.ts';
import type { SqlClient } from '../registry/sql.ts';
import { RESTRICTED_DEVICE_IDS } from '../requests/exclusions.ts';

export interface FleetDevice {
  tenantId: string;
  deviceId: string;
  kind: DeviceKind;
  /** The login identifier's pseudonym under the newest key version recorded. */
  pseudonym: string | null;
  lastSeenAt: Date | null;
  createdAt: Date;
  /** Linked to a subject who restricted processing (art. 18): counted, never listed. */
  restricted: boolean;
}

/** The enabled devices of one tenant, or of all when `tenantId` is null, as fleet health sees them. */
export function fleetDevices(sql: SqlClient, tenantId: string | null): Promise<FleetDevice[]> {
  return sql.query<FleetDevice>(
    `SELECT d.tenant_id AS "tenantId", d.id AS "deviceId", d.kind,
       (SELECT p.pseudonym FROM device_pseudonyms p WHERE p.device_id = d.id AND p.id_type = d.login_type
        ORDER BY p.key_version DESC LIMIT 1) AS pseudonym,
       d.last_seen_at AS "lastSeenAt", d.created_at AS "createdAt",
       d.id IN (${RESTRICTED_DEVICE_IDS}) AS restricted
     FROM devices d
     WHERE d.disabled_at IS NULL AND ($1::text IS NULL OR d.tenant_id = $1)
     ORDER BY d.tenant_id, d.kind, d.id`,
    [tenantId],
  );
}
