import type { Clock } from '../lib/clock.ts';
import type { SqlClient } from '../registry/sql.ts';
import type { DeviceRef } from './events.ts';

/** A device's last message reaches the registry at most this often (per instance). */
export const PERSIST_EVERY_MS = 60_000;

interface Seen {
  at: number;
  persistedAt: number | undefined;
  dirty: boolean;
}

/**
 * Which devices are connected to this instance now and when each last sent a
 * message. Both live in memory, keyed by registry device id (never by
 * identifier); last-seen times are also written to the registry, at most once
 * a minute per device, so a fresh instance knows who has gone silent.
 */
export function createPresence(deps: { sql: SqlClient; clock: Clock }) {
  const { sql, clock } = deps;
  const seen = new Map<string, Seen>();
  const connections = new Map<string, number>();

  return {
    /** The device sent a message (accepted or not: it is alive either way). */
    seen(device: DeviceRef): void {
      const at = clock().getTime();
      const entry = seen.get(device.deviceId);
      if (entry) {
        entry.at = Math.max(entry.at, at);
        entry.dirty = true;
      } else seen.set(device.deviceId, { at, persistedAt: undefined, dirty: true });
    },

    // A device may hold two connections for a moment while one takes over the other.
    connected(device: DeviceRef): void {
      connections.set(device.deviceId, (connections.get(device.deviceId) ?? 0) + 1);
    },
    disconnected(device: DeviceRef): void {
      const n = (connections.get(device.deviceId) ?? 0) - 1;
      if (n > 0) connections.set(device.deviceId, n);
      else connections.delete(device.deviceId);
    },

    isConnected: (deviceId: string) => connections.has(deviceId),
    lastSeen: (deviceId: string): number | undefined => seen.get(deviceId)?.at,

    /** Writes the last-seen times not written in the past minute; returns how many were written. */
    async persist(options: { all?: boolean } = {}): Promise<number> {
      const now = clock().getTime();
      const due = [...seen.entries()].filter(
        ([, s]) =>
          s.dirty && (options.all || s.persistedAt === undefined || now - s.persistedAt >= PERSIST_EVERY_MS),
      );
      if (due.length === 0) return 0;
      await sql.query(
        `UPDATE devices d SET last_seen_at = GREATEST(d.last_seen_at, v.at)
         FROM unnest($1::text[], $2::timestamptz[]) AS v(id, at) WHERE d.id = v.id`,
        [due.map(([id]) => id), due.map(([, s]) => new Date(s.at).toISOString())],
      );
      for (const [, s] of due) {
        s.persistedAt = now;
        s.dirty = false;
      }
      return due.length;
    },
  };
}

export type Presence = ReturnType<typeof createPresence>;
