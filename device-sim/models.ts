/**
 * Time-varying value models, one per device kind. Each is a pure function of
 * (device state, time): the state holds per-device parameters drawn once from
 * the device's login, and every reading is computed from the clock alone, so a
 * reading for any instant can be produced without replaying history (a fleet
 * can backfill a year at 15-minute steps as fast as it can format JSON).
 *
 * Cumulative registers (heat energy and volume, SIM data usage) are closed-form
 * integrals of strictly positive rates, so they never decrease. Times are UTC;
 * "local" daily and weekly patterns assume CET (UTC+1) all year.
 */
import {
  type BuildingSensorState,
  HEAT_METER_STATUSES,
  type HeatMeterState,
  type HeatMeterStatus,
  type ModelState,
  type SimUnitState,
} from './model-state.ts';
import { hash01, wander } from './random.ts';

export { HEAT_METER_STATUSES, modelState } from './model-state.ts';
export type { BuildingSensorState, HeatMeterState, HeatMeterStatus, ModelState, SimUnitState };

export interface HeatMeterValues {
  energy_kwh: number;
  volume_m3: number;
  flow_temp_c: number;
  return_temp_c: number;
  power_kw: number;
  flow_m3h: number;
  status: HeatMeterStatus;
}
export interface SimUnitValues {
  rssi_dbm: number;
  rsrp_dbm: number;
  rsrq_db: number;
  bytes_up: number;
  bytes_down: number;
  mcc: string;
  mnc: string;
  cell: number;
}
export interface BuildingSensorValues {
  temperature_c: number;
  humidity_pct: number;
  co2_ppm: number;
  occupancy: number;
}
export type ModelValues = HeatMeterValues | SimUnitValues | BuildingSensorValues;

const HOUR_MS = 3_600_000;
const OMEGA = (2 * Math.PI) / 24; // diurnal angular frequency, rad per hour
const HEAT_PEAK_UTC_HOUR = 6; // 07:00 CET, the morning heating peak

// Neighbouring networks a Danish or Swedish SIM roams onto: MCC → MNCs.
const NETWORKS: Record<string, readonly string[]> = {
  '238': ['01', '02', '06', '20'], // DK
  '240': ['01', '02', '07', '08'], // SE
  '242': ['01', '02'], // NO
  '244': ['05', '91'], // FI
  '262': ['01', '02', '03'], // DE
};
const NEIGHBOURS: Record<string, readonly string[]> = {
  '238': ['240', '242', '262'],
  '240': ['238', '242', '244'],
};

const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
};
const clamp = (x: number, min: number, max: number): number => Math.min(max, Math.max(min, x));

export function modelValues(state: HeatMeterState, time: Date | number): HeatMeterValues;
export function modelValues(state: SimUnitState, time: Date | number): SimUnitValues;
export function modelValues(state: BuildingSensorState, time: Date | number): BuildingSensorValues;
export function modelValues(state: ModelState, time: Date | number): ModelValues;
export function modelValues(state: ModelState, time: Date | number): ModelValues {
  const ms = typeof time === 'number' ? time : time.getTime();
  switch (state.kind) {
    case 'heat_meter':
      return heatMeter(state, ms);
    case 'sim_unit':
      return simUnit(state, ms);
    case 'building_sensor':
      return buildingSensor(state, ms);
  }
}

function heatMeter(s: HeatMeterState, ms: number): HeatMeterValues {
  const h = ms / HOUR_MS;
  const theta = (hAt: number) => OMEGA * (hAt - HEAT_PEAK_UTC_HOUR + 6); // sin θ = 1 at the peak hour
  const th = theta(h);
  const f0 = s.flowM3h;
  const a = s.flowSwing;
  const psi = s.flowPhase;
  const d0 = s.deltaC;
  const d1 = s.deltaSwingC;

  // flow(h) = f0·(1 + a·sin(θ+ψ)); ΔT(h) = d0 + d1·sin θ; P = 1.16·flow·ΔT (kW, m³/h, K).
  // Registers are the closed-form integrals of flow and P from installation, so they only grow.
  const volumeIntegral = (t: number) => f0 * (t - (a * Math.cos(theta(t) + psi)) / OMEGA);
  const energyIntegral = (t: number) => {
    const q = theta(t);
    return (
      1.16 *
      f0 *
      ((d0 + 0.5 * a * d1 * Math.cos(psi)) * t -
        (d1 * Math.cos(q)) / OMEGA -
        (a * d0 * Math.cos(q + psi)) / OMEGA -
        (a * d1 * Math.sin(2 * q + psi)) / (4 * OMEGA))
    );
  };
  const hi = s.installedAtMs / HOUR_MS;
  const since = (f: (t: number) => number) => (h > hi ? Math.max(0, f(h) - f(hi)) : 0);

  const noise = (salt: number) => (hash01(s.seed, Math.floor(ms / 60_000), salt) - 0.5) * 0.6;
  const supply = clamp(s.supplyC + s.supplySwingC * Math.sin(th) + noise(1), 60, 80);
  const ret = clamp(supply - (d0 + d1 * Math.sin(th)) + noise(2), 30, 45);
  const flowTemp = round(supply, 2);
  const returnTemp = round(ret, 2);
  const flow = round(f0 * (1 + a * Math.sin(th + psi)), 4);

  return {
    energy_kwh: round(s.energy0Kwh + since(energyIntegral), 3),
    volume_m3: round(s.volume0M3 + since(volumeIntegral), 4),
    flow_temp_c: flowTemp,
    return_temp_c: returnTemp,
    power_kw: round(1.16 * flow * (flowTemp - returnTemp), 3),
    flow_m3h: flow,
    status: heatStatus(s.seed, ms),
  };
}

/** Mostly 'ok'; an alarm lasts a six-hour block, as a meter holds an alarm until its next report window. */
function heatStatus(seed: number, ms: number): HeatMeterStatus {
  const block = Math.floor(ms / (6 * HOUR_MS));
  const r = hash01(seed, block, 7);
  if (r < 0.97) return 'ok';
  const alarms = HEAT_METER_STATUSES.slice(1);
  return alarms[Math.floor(hash01(seed, block, 8) * alarms.length)] ?? 'error';
}

function simUnit(s: SimUnitState, ms: number): SimUnitValues {
  const h = ms / HOUR_MS;
  const rssi = clamp(Math.round(s.rssiCenterDbm + 12 * wander(s.seed, h / 3)), -113, -51);
  const rsrp = clamp(Math.round(rssi - 25 + 4 * wander(s.seed + 1, h / 2)), -140, -44);
  const rsrq = clamp(round(-10 + 6 * wander(s.seed + 2, h / 2), 1), -20, -3);

  // Usage rate r·(1 + ½ sin θ) peaks in the afternoon; its integral is r·(t − ½ cos θ / ω).
  const ha = s.activatedAtMs / HOUR_MS;
  const usage = (rate: number) => {
    const integral = (t: number) => rate * (t - (0.5 * Math.cos(OMEGA * (t - 8))) / OMEGA);
    return h > ha ? Math.floor(Math.max(0, integral(h) - integral(ha))) : 0;
  };

  const roamBlock = Math.floor(h / 6);
  const neighbours = NEIGHBOURS[s.homeMcc];
  let mcc = s.homeMcc;
  let mnc = s.homeMnc;
  let cell: number;
  if (neighbours && hash01(s.seed, roamBlock, 11) < 0.03) {
    mcc = neighbours[Math.floor(hash01(s.seed, roamBlock, 12) * neighbours.length)] ?? mcc;
    const mncs = NETWORKS[mcc] ?? ['01'];
    mnc = mncs[Math.floor(hash01(s.seed, roamBlock, 13) * mncs.length)] ?? '01';
    cell = 256 * (1 + Math.floor(hash01(s.seed, roamBlock, 14) * 1_048_574)) + 1;
  } else {
    const r = hash01(s.seed, Math.floor(h * 2), 15); // serving cell re-selected every 30 minutes
    cell = r < 0.8 ? s.cells[0] : r < 0.95 ? s.cells[1] : s.cells[2];
  }

  return {
    rssi_dbm: rssi,
    rsrp_dbm: rsrp,
    rsrq_db: rsrq,
    bytes_up: usage(s.bytesUpPerHour),
    bytes_down: usage(s.bytesDownPerHour),
    mcc,
    mnc,
    cell,
  };
}

/** Expected share of capacity present at a local hour of a weekday or weekend day (smooth, 0..1). */
export function occupancyShape(localHour: number, weekend: boolean): number {
  const ramp = (x: number, from: number, to: number) => clamp((x - from) / (to - from), 0, 1);
  if (weekend) return 0.05 * ramp(localHour, 9, 11) * (1 - ramp(localHour, 14, 16));
  const arrive = ramp(localHour, 7, 9);
  const leave = 1 - ramp(localHour, 15.5, 18);
  const lunch = 1 - 0.3 * Math.max(0, 1 - Math.abs(localHour - 12) / 0.75);
  return arrive * leave * lunch;
}

function buildingSensor(s: BuildingSensorState, ms: number): BuildingSensorValues {
  const localMs = ms + HOUR_MS; // CET
  const local = new Date(localMs);
  const localHour = local.getUTCHours() + local.getUTCMinutes() / 60;
  const day = local.getUTCDay();
  const weekend = day === 0 || day === 6;
  const expected = s.capacity * occupancyShape(localHour, weekend);

  const quarter = Math.floor(ms / (15 * 60_000));
  const jitter = 0.75 + 0.5 * hash01(s.seed, quarter, 21);
  const occupancy = expected < 0.3 ? 0 : Math.max(0, Math.round(expected * jitter));

  // CO₂ follows occupancy with the room's ventilation lag (~30 min).
  const lagged = new Date(localMs - 30 * 60_000);
  const laggedHour = lagged.getUTCHours() + lagged.getUTCMinutes() / 60;
  const laggedDay = lagged.getUTCDay();
  const laggedPeople = s.capacity * occupancyShape(laggedHour, laggedDay === 0 || laggedDay === 6);
  const people = 0.5 * laggedPeople + 0.5 * occupancy;
  const h = ms / HOUR_MS;
  const co2 =
    420 + s.co2PerPerson * people * (0.85 + 0.3 * hash01(s.seed, quarter, 22)) + 15 * wander(s.seed + 3, h);

  const share = s.capacity > 0 ? people / s.capacity : 0;
  const night = localHour < 6 || localHour >= 22 ? -1.5 : 0; // night set-back
  const temperature = s.baseTempC + night + 1.5 * share + 0.4 * wander(s.seed + 4, h / 2);
  const humidity = s.baseHumidityPct + 8 * wander(s.seed + 5, h / 24) + 6 * share;

  return {
    temperature_c: round(clamp(temperature, 15, 30), 2),
    humidity_pct: round(clamp(humidity, 10, 90), 1),
    co2_ppm: Math.round(clamp(co2, 380, 5000)),
    occupancy,
  };
}
