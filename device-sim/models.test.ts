import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFleet, type SimDevice } from './fleet.ts';
import {
  type BuildingSensorState,
  HEAT_METER_STATUSES,
  type HeatMeterState,
  modelState,
  modelValues,
  type SimUnitState,
} from './models.ts';

const fleet = createFleet({
  seed: 'models',
  tenants: [
    { id: 'dk', name: 'Fjernvarme DK', jurisdiction: 'DK', role: 'processor' },
    { id: 'se', name: 'Fastighet SE', jurisdiction: 'SE', role: 'controller' },
  ],
  devicesPerKind: 5,
});
const of = (kind: SimDevice['kind']) => fleet.devices.filter((d) => d.kind === kind);
const START = Date.UTC(2025, 0, 6); // a Monday
const QUARTER = 15 * 60_000;
const STEPS = 10_000;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('heat meter registers never decrease; values stay in range and consistent', () => {
  for (const device of of('heat_meter')) {
    const state = modelState(device) as HeatMeterState;
    let prev = modelValues(state, START);
    let alarms = 0;
    for (let i = 1; i <= STEPS; i++) {
      const v = modelValues(state, START + i * QUARTER);
      assert.ok(v.energy_kwh >= prev.energy_kwh, `energy fell at step ${i}`);
      assert.ok(v.volume_m3 >= prev.volume_m3, `volume fell at step ${i}`);
      assert.ok(v.flow_temp_c >= 60 && v.flow_temp_c <= 80, `flow ${v.flow_temp_c}`);
      assert.ok(v.return_temp_c >= 30 && v.return_temp_c <= 45, `return ${v.return_temp_c}`);
      assert.ok(v.flow_m3h > 0);
      const expected = 1.16 * v.flow_m3h * (v.flow_temp_c - v.return_temp_c);
      assert.ok(Math.abs(v.power_kw - expected) <= 0.001 + 1e-9, 'P ≈ 1.16 · flow · ΔT');
      assert.ok(HEAT_METER_STATUSES.includes(v.status));
      if (v.status !== 'ok') alarms++;
      prev = v;
    }
    assert.ok(alarms < STEPS * 0.1, `mostly ok (${alarms} alarms)`);
    assert.ok(prev.energy_kwh > modelValues(state, START).energy_kwh, 'energy grows');
  }
});

test('heat meter energy tracks the integral of power', () => {
  const state = modelState(of('heat_meter')[0] as SimDevice) as HeatMeterState;
  const t0 = Math.max(START, state.installedAtMs + 3_600_000);
  let integral = 0;
  const step = 60_000;
  for (let t = t0; t < t0 + 24 * 3_600_000; t += step)
    integral += (modelValues(state, t).power_kw * step) / 3_600_000;
  const gained = modelValues(state, t0 + 24 * 3_600_000).energy_kwh - modelValues(state, t0).energy_kwh;
  assert.ok(Math.abs(gained - integral) / integral < 0.03, `gained ${gained} vs ∫P ${integral}`);
});

test('flow temperature has a diurnal swing', () => {
  const state = modelState(of('heat_meter')[1] as SimDevice) as HeatMeterState;
  const temps = Array.from({ length: 24 }, (_, h) => modelValues(state, START + h * 3_600_000).flow_temp_c);
  assert.ok(Math.max(...temps) - Math.min(...temps) > 4);
});

test('SIM unit signals stay bounded, usage only grows, roaming is rare', () => {
  for (const device of of('sim_unit')) {
    const state = modelState(device) as SimUnitState;
    assert.equal(state.homeMcc, device.identifiers.imsi?.slice(0, 3));
    let prev = modelValues(state, START);
    let roaming = 0;
    const rssis = new Set<number>();
    for (let i = 1; i <= STEPS; i++) {
      const v = modelValues(state, START + i * QUARTER);
      assert.ok(v.rssi_dbm >= -113 && v.rssi_dbm <= -51 && Number.isInteger(v.rssi_dbm));
      assert.ok(v.rsrp_dbm >= -140 && v.rsrp_dbm <= -44 && Number.isInteger(v.rsrp_dbm));
      assert.ok(v.rsrq_db >= -20 && v.rsrq_db <= -3);
      assert.ok(Number.isInteger(v.bytes_up) && v.bytes_up >= prev.bytes_up);
      assert.ok(Number.isInteger(v.bytes_down) && v.bytes_down >= prev.bytes_down);
      assert.match(v.mcc, /^\d{3}$/);
      assert.match(v.mnc, /^\d{2}$/);
      assert.ok(Number.isInteger(v.cell) && v.cell > 0 && v.cell < 2 ** 28);
      if (v.mcc !== state.homeMcc) roaming++;
      rssis.add(v.rssi_dbm);
      // A random walk, not white noise: consecutive quarters differ by little.
      assert.ok(Math.abs(v.rssi_dbm - prev.rssi_dbm) <= 8);
      prev = v;
    }
    assert.ok(roaming < STEPS * 0.1, `roaming ${roaming}`);
    assert.ok(rssis.size > 10, 'the signal wanders');
  }
});

test('some SIM unit roams over a long run', () => {
  const roamed = of('sim_unit').some((device) => {
    const state = modelState(device) as SimUnitState;
    for (let i = 0; i < STEPS; i++)
      if (modelValues(state, START + i * QUARTER).mcc !== state.homeMcc) return true;
    return false;
  });
  assert.ok(roamed);
});

test('building sensors follow the working week; CO₂ follows occupancy', () => {
  for (const device of of('building_sensor')) {
    const state = modelState(device) as BuildingSensorState;
    let weekdayNoon = 0;
    let weekendNoon = 0;
    const nightCo2: number[] = [];
    const dayCo2: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const t = START + i * QUARTER;
      const v = modelValues(state, t);
      assert.ok(v.temperature_c >= 15 && v.temperature_c <= 30);
      assert.ok(v.humidity_pct >= 0 && v.humidity_pct <= 100);
      assert.ok(Number.isInteger(v.co2_ppm) && v.co2_ppm >= 380 && v.co2_ppm <= 5000);
      assert.ok(Number.isInteger(v.occupancy) && v.occupancy >= 0);
      const local = new Date(t + 3_600_000);
      const weekend = local.getUTCDay() === 0 || local.getUTCDay() === 6;
      const hour = local.getUTCHours();
      if (hour === 10 || hour === 14) {
        if (weekend) weekendNoon += v.occupancy;
        else weekdayNoon += v.occupancy;
        if (!weekend) dayCo2.push(v.co2_ppm);
      }
      if (hour === 3 && !weekend) nightCo2.push(v.co2_ppm);
      if (hour === 3) assert.equal(v.occupancy, 0);
    }
    assert.ok(weekdayNoon > weekendNoon * 3, 'busier on weekdays');
    assert.ok(mean(dayCo2) > mean(nightCo2) + 200, 'CO₂ higher when occupied');
  }
});

test('state and readings depend only on the device', () => {
  const device = of('sim_unit')[2] as SimDevice;
  assert.deepEqual(modelState(device), modelState({ ...device }));
  assert.deepEqual(modelValues(modelState(device), START), modelValues(modelState(device), new Date(START)));
});
