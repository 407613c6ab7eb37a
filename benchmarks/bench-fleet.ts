/**
 * The benchmark's fleet, the same in every phase and every process: rebuilt
 * from the seed wherever it is needed, so only numbers cross process lines.
 */
import { createFleet, type Fleet, type FleetTenant } from '../device-sim/fleet.ts';

export const BENCH_TENANTS: FleetTenant[] = [
  { id: 'bench-dk', name: 'Bench Fjernvarme A/S', jurisdiction: 'DK', role: 'processor' },
  { id: 'bench-se', name: 'Bench IoT AB', jurisdiction: 'SE', role: 'controller' },
];

export interface FleetSpec {
  seed: string;
  /** Devices of each kind per tenant: 2 tenants × 3 kinds × this. */
  devicesPerKind: number;
}

export function benchFleet(spec: FleetSpec): Fleet {
  return createFleet({ seed: spec.seed, tenants: BENCH_TENANTS, devicesPerKind: spec.devicesPerKind });
}
