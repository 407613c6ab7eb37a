import { STORED_FIELDS } from '../ingest/schemas.ts';
import { DEVICE_KINDS, type DeviceKind } from '../lib/device-kinds.ts';

type Stored = typeof STORED_FIELDS;
/** A stored field of `K` that holds a number (float or integer), from the ingest schemas. */
type NumericField<K extends DeviceKind> = {
  [F in keyof Stored[K]]: Stored[K][F] extends 'float' | 'integer' ? F : never;
}[keyof Stored[K]];

/**
 * The unit of every numeric field a kind stores. Keyed by the stored fields'
 * own names, so a field added to STORED_FIELDS without a unit here fails to
 * compile, and a unit here for a field that is not stored does too.
 */
const UNITS: { [K in DeviceKind]: Record<NumericField<K>, string> } = {
  heat_meter: {
    energy_kwh: 'kWh',
    volume_m3: 'm³',
    flow_temp_c: '°C',
    return_temp_c: '°C',
    power_kw: 'kW',
    flow_m3h: 'm³/h',
  },
  sim_unit: { rssi_dbm: 'dBm', rsrp_dbm: 'dBm', rsrq_db: 'dB', bytes_up: 'B', bytes_down: 'B' },
  building_sensor: { temperature_c: '°C', humidity_pct: '%', co2_ppm: 'ppm', occupancy: 'persons' },
};

export interface TelemetryField {
  name: string;
  unit: string;
}

/**
 * The fields a telemetry query may name: the numeric readings of each kind
 * (strings such as `status` and `country`, and the pseudonym fields, are
 * not charted). The allow-list is what keeps a user's text out of the
 * SELECT clause: a field is only ever one of these names.
 */
export const TELEMETRY_FIELDS: Readonly<Record<DeviceKind, readonly TelemetryField[]>> = Object.freeze(
  Object.fromEntries(
    DEVICE_KINDS.map((kind) => [
      kind,
      Object.freeze(
        Object.entries(UNITS[kind] as Record<string, string>)
          .filter(([name]) => {
            const type = (STORED_FIELDS[kind] as Record<string, string>)[name];
            return type === 'float' || type === 'integer';
          })
          .map(([name, unit]) => Object.freeze({ name, unit })),
      ),
    ]),
  ) as Record<DeviceKind, readonly TelemetryField[]>,
);

export function isTelemetryField(kind: DeviceKind, name: string): boolean {
  return TELEMETRY_FIELDS[kind].some((f) => f.name === name);
}
