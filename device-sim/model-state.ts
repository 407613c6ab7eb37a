/**
 * Per-device parameters of the value models, drawn once from the device's
 * login (and, for SIM units, the home network in its IMSI), so any process
 * that knows a device can compute its readings without shared state.
 */
import type { DeviceKind } from '../lib/device-kinds.ts';
import { createRng, hashString } from './random.ts';
import type { DeviceIdentifiers } from './registrar.ts';

export const HEAT_METER_STATUSES = [
  'ok',
  'low_battery',
  'leak',
  'burst',
  'dry',
  'reverse_flow',
  'tamper',
  'error',
] as const;
export type HeatMeterStatus = (typeof HEAT_METER_STATUSES)[number];

export interface HeatMeterState {
  kind: 'heat_meter';
  seed: number;
  installedAtMs: number;
  energy0Kwh: number;
  volume0M3: number;
  supplyC: number; // mean flow temperature
  supplySwingC: number; // diurnal amplitude of the flow temperature
  deltaC: number; // mean flow − return difference
  deltaSwingC: number; // diurnal amplitude of the difference
  flowM3h: number; // mean volume flow
  flowSwing: number; // diurnal relative amplitude of the flow
  flowPhase: number; // radians the flow peak leads the temperature peak
}

export interface SimUnitState {
  kind: 'sim_unit';
  seed: number;
  activatedAtMs: number;
  homeMcc: string;
  homeMnc: string;
  cells: [number, number, number];
  rssiCenterDbm: number;
  bytesUpPerHour: number;
  bytesDownPerHour: number;
}

export interface BuildingSensorState {
  kind: 'building_sensor';
  seed: number;
  capacity: number; // people the room holds on a busy weekday
  baseTempC: number;
  baseHumidityPct: number;
  co2PerPerson: number; // ppm above outdoor per person present
}

export type ModelState = HeatMeterState | SimUnitState | BuildingSensorState;

const HOUR_MS = 3_600_000;
const INSTALL_EPOCH_MS = Date.UTC(2023, 0, 1);
const TWO_YEARS_MS = 2 * 365 * 24 * HOUR_MS;

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Per-device parameters, derived deterministically from the login (and, for SIMs, the home network). */
export function modelState(device: {
  kind: DeviceKind;
  login: string;
  identifiers: DeviceIdentifiers;
}): ModelState {
  const seed = hashString(`${device.kind}:${device.login}`);
  const rng = createRng(seed);
  switch (device.kind) {
    case 'heat_meter': {
      const supplySwingC = rng.float(3, 6);
      return {
        kind: 'heat_meter',
        seed,
        installedAtMs: INSTALL_EPOCH_MS + Math.floor(rng.next() * TWO_YEARS_MS),
        energy0Kwh: round3(rng.float(0, 40_000)),
        volume0M3: round3(rng.float(0, 1_000)),
        supplyC: rng.float(66, 72),
        supplySwingC,
        deltaC: rng.float(29, 33),
        // The return temperature swings by supplySwing − deltaSwing ≤ 2 °C, keeping it in 30–45 °C.
        deltaSwingC: supplySwingC - rng.float(0, 2),
        flowM3h: rng.float(0.03, 0.3),
        flowSwing: rng.float(0.3, 0.6),
        flowPhase: rng.float(-0.5, 0.5),
      };
    }
    case 'sim_unit': {
      const imsi = device.identifiers.imsi ?? '23801';
      const homeMcc = imsi.slice(0, 3);
      const eNodeB = () => rng.int(1, 1_048_575) * 256 + rng.int(1, 3); // 28-bit E-UTRAN cell id
      return {
        kind: 'sim_unit',
        seed,
        activatedAtMs: INSTALL_EPOCH_MS + Math.floor(rng.next() * TWO_YEARS_MS),
        homeMcc,
        homeMnc: imsi.slice(3, 5),
        cells: [eNodeB(), eNodeB(), eNodeB()],
        rssiCenterDbm: rng.float(-95, -65),
        bytesUpPerHour: rng.float(20_000, 2_000_000),
        bytesDownPerHour: rng.float(5_000, 500_000),
      };
    }
    case 'building_sensor': {
      const capacity = rng.int(2, 40);
      return {
        kind: 'building_sensor',
        seed,
        capacity,
        baseTempC: rng.float(20, 22),
        baseHumidityPct: rng.float(32, 45),
        co2PerPerson: rng.float(600, 900) / capacity,
      };
    }
  }
}
