export const DEVICE_KINDS = ['heat_meter', 'sim_unit', 'building_sensor'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export function isDeviceKind(value: string): value is DeviceKind {
  return (DEVICE_KINDS as readonly string[]).includes(value);
}
