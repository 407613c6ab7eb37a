import type { DeviceKind } from '../lib/device-kinds.ts';

/**
 * What ingest knows about the device behind a connection, resolved once at
 * authentication: its tenant, its pseudonym, and the tags every point it sends
 * carries. Holds no raw identifier.
 */
export interface DeviceContext {
  tenantId: string;
  deviceId: string;
  kind: DeviceKind;
  /** Keyed pseudonym of the login identifier under the tenant's current key version. */
  devicePseudonym: string;
  keyVersion: number;
  /** Pseudonyms, under every key version recorded, of every identifier registered for this device. */
  ownPseudonyms: ReadonlySet<string>;
  /** tenant, device, contract, role, purpose, legal_basis: art. 30 on every point. */
  tags: Readonly<Record<string, string>>;
  /** Size in metres of the grid GPS is snapped to (ingest/gps-grid.ts), or null: GPS is dropped (art. 5(1)(c)). */
  gpsGridMeters: number | null;
}
