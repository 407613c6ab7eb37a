/**
 * A simulated fleet: tenants, one contract per tenant and device kind, and
 * devices with valid, fleet-unique identifiers and generated secrets. Pure
 * data, deterministic given the seed; registering it is register.ts' job.
 */
import { DEVICE_KINDS, type DeviceKind } from '../lib/device-kinds.ts';
import { createIdentifierSource, type IdentifierSource } from './identifiers.ts';
import { createRng } from './random.ts';
import type { ContractInput, DeviceIdentifiers, Jurisdiction, LegalBasis, Role } from './registrar.ts';

export interface FleetTenant {
  id: string;
  name: string;
  jurisdiction: Jurisdiction;
  role: Role;
}

export interface FleetContract extends ContractInput {
  tenantId: string;
  kind: DeviceKind;
}

export interface SimDevice {
  kind: DeviceKind;
  tenantId: string;
  contractId: string;
  /** MQTT username: ICCID for SIM units, wM-Bus id for heat meters, serial for building sensors. */
  login: string;
  identifiers: DeviceIdentifiers;
  /** MQTT password. */
  secret: string;
}

export interface FleetOptions {
  seed: number | string;
  tenants: FleetTenant[];
  /** Devices of each kind, per tenant. */
  devicesPerKind: number;
  /** Override the generated secret (e.g. a fixed one for a demo); undefined keeps the generated one. */
  secretFor?: (device: Omit<SimDevice, 'secret'>) => string | undefined;
  /** Contract start date, YYYY-MM-DD (default 2024-01-01). */
  contractStartsOn?: string;
}

export interface Fleet {
  seed: number | string;
  tenants: FleetTenant[];
  contracts: FleetContract[];
  devices: SimDevice[];
  /**
   * Records every raw identifier the fleet uses: the devices' own and any
   * generated later (e.g. hidden in notes) through it. `identifiers.used()`
   * is the list leak tests grep for.
   */
  identifiers: IdentifierSource;
}

const PURPOSES: Record<DeviceKind, { purpose: string; legalBasis: LegalBasis }> = {
  heat_meter: { purpose: 'district heating billing and leak detection', legalBasis: 'contract' },
  sim_unit: { purpose: 'connectivity service', legalBasis: 'contract' },
  building_sensor: { purpose: 'indoor climate control', legalBasis: 'legitimate_interests' },
};

const KIND_SLUG: Record<DeviceKind, string> = {
  heat_meter: 'heat',
  sim_unit: 'sim',
  building_sensor: 'building',
};

export function contractIdFor(tenantId: string, kind: DeviceKind): string {
  return `${tenantId}-${KIND_SLUG[kind]}`;
}

export function createFleet(opts: FleetOptions): Fleet {
  const rng = createRng(opts.seed);
  const identifiers = createIdentifierSource(rng.fork('identifiers'));
  const secrets = rng.fork('secrets');
  const contracts: FleetContract[] = [];
  const devices: SimDevice[] = [];

  for (const tenant of opts.tenants) {
    for (const kind of DEVICE_KINDS) {
      const contractId = contractIdFor(tenant.id, kind);
      contracts.push({
        id: contractId,
        tenantId: tenant.id,
        kind,
        role: tenant.role,
        purpose: PURPOSES[kind].purpose,
        legalBasis: PURPOSES[kind].legalBasis,
        startsOn: opts.contractStartsOn ?? '2024-01-01',
        endsOn: null,
        jurisdiction: tenant.jurisdiction,
      });
      for (let i = 0; i < opts.devicesPerKind; i++) {
        const { login, ids } = newIdentity(kind, tenant.jurisdiction, identifiers);
        const device = { kind, tenantId: tenant.id, contractId, login, identifiers: ids };
        // Draw the secret even when overridden, so overriding one does not shift the others.
        const generated = secrets.hex(32);
        devices.push({ ...device, secret: opts.secretFor?.(device) ?? generated });
      }
    }
  }

  return { seed: opts.seed, tenants: opts.tenants.map((t) => ({ ...t })), contracts, devices, identifiers };
}

function newIdentity(
  kind: DeviceKind,
  country: Jurisdiction,
  source: IdentifierSource,
): { login: string; ids: DeviceIdentifiers } {
  switch (kind) {
    case 'sim_unit': {
      const ids = source.simIdentifiers(country);
      return { login: ids.iccid, ids };
    }
    case 'heat_meter': {
      const wmbus = source.wmbus();
      return { login: wmbus, ids: { wmbus } };
    }
    case 'building_sensor': {
      const serial = source.serial();
      return { login: serial, ids: { serial } };
    }
  }
}

/** Every raw identifier of the given devices (for leak tests), deduplicated. */
export function deviceIdentifiers(devices: readonly SimDevice[]): string[] {
  const out = new Set<string>();
  for (const d of devices) {
    for (const v of Object.values(d.identifiers)) if (v) out.add(v);
  }
  return [...out];
}
