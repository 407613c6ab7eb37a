export const DEVICE_KINDS = ['heat_meter', 'sim_unit', 'building_sensor'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** One value per device kind, made by `make`. */
export function byKind<T>(make: (kind: DeviceKind) => T): Record<DeviceKind, T> {
  return Object.fromEntries(DEVICE_KINDS.map((kind) => [kind, make(kind)])) as Record<DeviceKind, T>;
}

export function isDeviceKind(value: string): value is DeviceKind {
  return (DEVICE_KINDS as readonly string[]).includes(value);
}

/**
 * How often a healthy device of each kind reports, in seconds: a heat meter
 * every 15 minutes (the billing interval of the district-heating seeds), a
 * SIM-connected unit every 5 minutes, a room sensor every minute. Fleet health
 * calls a device silent once it has said nothing for three of its intervals.
 */
export const EXPECTED_INTERVAL_S: Readonly<Record<DeviceKind, number>> = Object.freeze({
  heat_meter: 900,
  sim_unit: 300,
  building_sensor: 60,
});

/** Intervals without a message before a device counts as silent. */
export const SILENT_AFTER_INTERVALS = 3;
