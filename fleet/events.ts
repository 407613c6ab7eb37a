import type { DeviceKind } from '../lib/device-kinds.ts';

/** What fleet health needs to know of a device: no raw identifier, only its pseudonym. */
export interface DeviceRef {
  tenantId: string;
  deviceId: string;
  kind: DeviceKind;
  devicePseudonym: string;
}

/**
 * What ingest and the broker tell fleet health, as it happens. Every call is
 * synchronous and O(1): it runs on the message path.
 */
export interface FleetEvents {
  /** A message was validated and handed to the transport; `dropped` counts fields removed, by reason. */
  accepted(device: DeviceRef, dropped: Readonly<Record<string, number>>): void;
  /** A message (or, with no device, a connection) was refused, for `reason`. */
  rejected(device: DeviceRef | null, reason: string): void;
  /** A valid message was acknowledged and not stored, for `reason` (a subject's objection). */
  dropped(device: DeviceRef, reason: string): void;
  connected(device: DeviceRef): void;
  disconnected(device: DeviceRef): void;
}
