/**
 * The simulator registers its fleet through this interface; Skjold's HTTP API
 * client implements it (POST /v1/tenants, /v1/tenants/:t/contracts,
 * /v1/tenants/:t/devices). Keeping it an interface lets tests register against
 * an in-memory double and benchmarks against the real API.
 */
import type { DeviceKind } from '../lib/device-kinds.ts';

export type Role = 'controller' | 'processor';
export type LegalBasis = 'contract' | 'consent' | 'legal_obligation' | 'legitimate_interests';
export type Jurisdiction = 'DK' | 'SE';

export interface ContractInput {
  id: string;
  role: Role;
  purpose: string;
  legalBasis: LegalBasis;
  /** YYYY-MM-DD */
  startsOn: string;
  /** YYYY-MM-DD, or null for an open-ended contract. */
  endsOn: string | null;
  jurisdiction: Jurisdiction;
}

export interface DeviceIdentifiers {
  iccid?: string;
  imsi?: string;
  imei?: string;
  msisdn?: string;
  wmbus?: string;
  serial?: string;
}

export interface DeviceInput {
  kind: DeviceKind;
  contractId: string;
  identifiers: DeviceIdentifiers;
  secret?: string;
}

export interface Registrar {
  /** POST /v1/tenants; an existing tenant (409) is not an error. */
  ensureTenant(t: { id: string; name: string }): Promise<void>;
  /** POST /v1/tenants/:t/contracts */
  ensureContract(tenantId: string, c: ContractInput): Promise<{ id: string }>;
  /** POST /v1/tenants/:t/devices */
  addDevice(tenantId: string, d: DeviceInput): Promise<{ id: string; secret: string }>;
}
