import type { DeviceRef } from './events.ts';

/** Counts of one tenant (null: refusals that belong to no known device) in one step. */
export interface TenantCounts {
  accepted: number;
  rejected: Map<string, number>;
  /** Fields removed from accepted messages, by reason. */
  dropped: Map<string, number>;
  /** Whole messages acknowledged and not stored, by reason (objection, consent_withdrawal). */
  droppedPoints: Map<string, number>;
}

export interface DeviceRejections {
  tenantId: string | null;
  deviceId: string | null;
  /** The device's pseudonym, or null for refusals of unknown devices and for the overflow. */
  device: string | null;
  reason: string;
  count: number;
}

/** What happened in one step (10 s by default) of fleet health's history. */
export interface Step {
  /** Epoch ms at which the step was closed. */
  at: number;
  tenants: Map<string | null, TenantCounts>;
  devices: DeviceRejections[];
}

/**
 * Devices named per step at most: past that, a step's rejections still count
 * by tenant and reason but under no device (a flood of misbehaving devices
 * must not grow the history without bound).
 */
export const MAX_DEVICES_PER_STEP = 100;

const bump = (m: Map<string, number>, key: string, n = 1) => m.set(key, (m.get(key) ?? 0) + n);

/** The step being filled: counts by tenant, and rejections by device. */
export function createStepCounter() {
  let tenants = new Map<string | null, TenantCounts>();
  let devices = new Map<string, DeviceRejections>();

  const countsOf = (tenantId: string | null): TenantCounts => {
    let c = tenants.get(tenantId);
    if (!c) {
      c = { accepted: 0, rejected: new Map(), dropped: new Map(), droppedPoints: new Map() };
      tenants.set(tenantId, c);
    }
    return c;
  };

  return {
    accepted(device: DeviceRef, dropped: Readonly<Record<string, number>>): void {
      const c = countsOf(device.tenantId);
      c.accepted++;
      // Once per stored message: a for-in, not Object.entries' array of pairs.
      for (const reason in dropped) {
        const n = dropped[reason] as number;
        if (n > 0) bump(c.dropped, reason, n);
      }
    },

    dropped(device: DeviceRef, reason: string): void {
      bump(countsOf(device.tenantId).droppedPoints, reason);
    },

    rejected(device: DeviceRef | null, reason: string): void {
      const tenantId = device?.tenantId ?? null;
      bump(countsOf(tenantId).rejected, reason);
      const own = device === null ? undefined : `${device.deviceId}\0${reason}`;
      // A device named earlier in the step stays named; a new one only while there is room.
      const named = own !== undefined && (devices.has(own) || devices.size < MAX_DEVICES_PER_STEP);
      const key = named ? own : `${tenantId}\0\0${reason}`;
      const entry = devices.get(key);
      if (entry) entry.count++;
      else {
        // Unnamed entries are bounded too: one per tenant and reason, both from fixed sets.
        devices.set(key, {
          tenantId,
          deviceId: named ? (device?.deviceId ?? null) : null,
          device: named ? (device?.devicePseudonym ?? null) : null,
          reason,
          count: 1,
        });
      }
    },

    /** The step so far, without closing it. */
    peek(at: number): Step {
      return { at, tenants, devices: [...devices.values()] };
    },

    /** Closes the step and starts the next. */
    close(at: number): Step {
      const step: Step = { at, tenants, devices: [...devices.values()] };
      tenants = new Map();
      devices = new Map();
      return step;
    },
  };
}
