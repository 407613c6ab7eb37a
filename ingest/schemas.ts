import { z } from 'zod';
import type { DeviceKind } from '../lib/device-kinds.ts';

/**
 * One schema per device kind: exactly the fields the purposes need (art. 5(1)(c),
 * data minimisation). Anything else a device sends is dropped and counted.
 * docs/privacy.md lists the same fields; a test keeps the two in step.
 */
const finite = z.number().finite();
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Device time: ISO-8601 string or epoch milliseconds. Checked for plausibility later. */
const deviceTime = z.union([z.iso.datetime({ offset: true }), z.number().int().positive()]);

const common = {
  ts: deviceTime.optional(),
  seq: count.optional(),
  // Free text: kept only after every identifier in it is pseudonymised.
  note: z.string().max(500).optional(),
  // Art. 5(1)(c): dropped unless the contract keeps GPS at a stated precision.
  gps: z.object({ lat: finite.min(-90).max(90), lon: finite.min(-180).max(180) }).optional(),
  // Identifiers a device may report about itself (e.g. the IMEI a SIM sits in).
  iccid: z.string().max(40).optional(),
  imsi: z.string().max(40).optional(),
  imei: z.string().max(40).optional(),
  imeisv: z.string().max(40).optional(),
  msisdn: z.string().max(40).optional(),
  wmbus: z.string().max(40).optional(),
};

export const METER_STATUSES = [
  'ok',
  'low_battery',
  'leak',
  'burst',
  'dry',
  'reverse_flow',
  'tamper',
  'error',
] as const;

export const heatMeterSchema = z.object({
  ...common,
  energy_kwh: finite.nonnegative(),
  volume_m3: finite.nonnegative(),
  flow_temp_c: finite.min(-20).max(200),
  return_temp_c: finite.min(-20).max(200),
  power_kw: finite.nonnegative().max(100_000),
  flow_m3h: finite.nonnegative().max(100_000),
  status: z.enum(METER_STATUSES).default('ok'),
});

export const simUnitSchema = z.object({
  ...common,
  rssi_dbm: finite.min(-130).max(-20),
  rsrp_dbm: finite.min(-160).max(-30),
  rsrq_db: finite.min(-45).max(25),
  bytes_up: count,
  bytes_down: count,
  // Serving network and cell: coarsened to the country, then dropped.
  mcc: z.union([z.string().regex(/^\d{3}$/), z.number().int().min(200).max(799)]),
  mnc: z.union([z.string().regex(/^\d{2,3}$/), z.number().int().min(0).max(999)]).optional(),
  cell: z.union([z.string().max(32), z.number().int().nonnegative()]).optional(),
});

export const buildingSensorSchema = z.object({
  ...common,
  temperature_c: finite.min(-50).max(100),
  humidity_pct: finite.min(0).max(100),
  co2_ppm: z.number().int().min(0).max(40_000),
  occupancy: z.union([count.max(100_000), z.boolean().transform((b) => (b ? 1 : 0))]),
});

export const SCHEMAS = {
  heat_meter: heatMeterSchema,
  sim_unit: simUnitSchema,
  building_sensor: buildingSensorSchema,
} as const satisfies Record<DeviceKind, z.ZodObject>;

/** Fields stored as InfluxDB fields, with their type, per kind (after transformation). */
export const STORED_FIELDS = {
  heat_meter: {
    energy_kwh: 'float',
    volume_m3: 'float',
    flow_temp_c: 'float',
    return_temp_c: 'float',
    power_kw: 'float',
    flow_m3h: 'float',
    status: 'string',
  },
  sim_unit: {
    rssi_dbm: 'float',
    rsrp_dbm: 'float',
    rsrq_db: 'float',
    bytes_up: 'integer',
    bytes_down: 'integer',
    country: 'string',
  },
  building_sensor: {
    temperature_c: 'float',
    humidity_pct: 'float',
    co2_ppm: 'integer',
    occupancy: 'integer',
  },
} as const satisfies Record<DeviceKind, Record<string, 'float' | 'integer' | 'string'>>;

/** Fields any kind may store besides its own. */
export const COMMON_STORED_FIELDS = {
  seq: 'integer',
  note: 'string',
  arrival_time: 'boolean',
  gps_lat: 'float',
  gps_lon: 'float',
  iccid_pseudonym: 'string',
  imsi_pseudonym: 'string',
  imei_pseudonym: 'string',
  imeisv_pseudonym: 'string',
  msisdn_pseudonym: 'string',
  wmbus_pseudonym: 'string',
} as const;

/** Tags on every point. */
export const TAGS = ['tenant', 'device', 'contract', 'role', 'purpose', 'legal_basis'] as const;
