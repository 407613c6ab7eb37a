import type { Logger } from '../lib/log.ts';
import type { SqlClient } from '../registry/sql.ts';
import type { DeviceContext } from './device-context.ts';

/** Why a point was received but not stored: the basis of the subject's objection. */
export type DropReason = 'objection' | 'consent_withdrawal';
export const DROP_REASONS: readonly DropReason[] = ['objection', 'consent_withdrawal'];

/**
 * The time a subject is linked to a device: its occupancy period
 * (subject_devices.valid_from / valid_to); a link from before periods covers
 * all time.
 */
export interface LinkPeriod {
  /** Epoch ms from which the subject is the device's, or null: since always. */
  fromMs: number | null;
  /** Epoch ms until which (exclusive), or null: still. */
  toMs: number | null;
}

/**
 * Whether a point stamped `timestampMs` is the linked subject's: a reading
 * taken before the subject moved in, or after they moved out, is another
 * household's and no objection of this subject's applies to it.
 */
export function withinLinkPeriod(link: LinkPeriod, timestampMs: number): boolean {
  return (
    (link.fromMs === null || timestampMs >= link.fromMs) && (link.toMs === null || timestampMs < link.toMs)
  );
}

interface Block {
  purpose: string;
  basis: DropReason;
  link: LinkPeriod;
}

export interface ObjectionGateDeps {
  sql: SqlClient;
  logger: Logger;
  /** How often the blocks are read again from the registry, for changes made by other instances. */
  refreshMs: number;
}

/**
 * Which devices' points ingest must not store, and for which purpose: a
 * device linked to a subject who objected to its contract's purpose
 * (art. 21(1)) or withdrew consent for it (art. 7(3)). Ingest asks for every
 * message, so the answer comes from memory — a map of the few blocked devices
 * — and never from the registry. The map is read whole from the registry at
 * start, again after every change made through this process (the API awaits
 * it before answering), and every `refreshMs` for changes other instances made.
 */
export function createObjectionGate(deps: ObjectionGateDeps) {
  const { sql, logger } = deps;
  let blocks = new Map<string, Block[]>();
  let queue: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  async function load(): Promise<void> {
    // Only objections to the purpose of the device's own contract can stop its points.
    // Art. 21 reaches the subject's own occupancy periods only: the next occupant's readings are theirs.
    const rows = await sql.query<{
      deviceId: string;
      purpose: string;
      basis: DropReason;
      fromMs: string | number | null;
      toMs: string | number | null;
    }>(
      `SELECT sd.device_id AS "deviceId", o.purpose, o.basis,
         (extract(epoch FROM sd.valid_from) * 1000)::bigint AS "fromMs",
         (extract(epoch FROM sd.valid_to) * 1000)::bigint AS "toMs"
       FROM subject_objections o
       JOIN subject_devices sd ON sd.tenant_id = o.tenant_id AND sd.subject_ref = o.subject_ref
       JOIN devices d ON d.id = sd.device_id
       JOIN contracts c ON c.tenant_id = d.tenant_id AND c.id = d.contract_id AND c.purpose = o.purpose
       ORDER BY sd.device_id, o.basis DESC`,
    );
    const next = new Map<string, Block[]>();
    for (const r of rows) {
      const list = next.get(r.deviceId) ?? [];
      list.push({
        purpose: r.purpose,
        basis: r.basis,
        link: {
          fromMs: r.fromMs === null ? null : Number(r.fromMs),
          toMs: r.toMs === null ? null : Number(r.toMs),
        },
      });
      next.set(r.deviceId, list);
    }
    blocks = next;
  }

  /** Reads the blocks again, after whatever reading is under way (so a change just made is seen). */
  function refresh(): Promise<void> {
    queue = queue.catch(() => undefined).then(load);
    return queue;
  }

  return {
    refresh,

    /**
     * Why the point must not be stored, or null. Synchronous and O(links of
     * the device): it runs on the message path.
     */
    blocked(ctx: Pick<DeviceContext, 'deviceId' | 'tags'>, timestampMs: number): DropReason | null {
      const list = blocks.get(ctx.deviceId);
      if (list === undefined) return null;
      for (const b of list) {
        if (b.purpose === ctx.tags.purpose && withinLinkPeriod(b.link, timestampMs)) return b.basis;
      }
      return null;
    },

    /** Devices blocked now (for tests and diagnostics). */
    size: () => blocks.size,

    /** Loads the blocks, then refreshes them every `refreshMs`. */
    async start(): Promise<void> {
      await refresh();
      timer = setInterval(() => {
        // The last blocks read stay in force while the registry does not answer.
        refresh().catch((err: unknown) => logger.warn({ err }, 'objections not re-read from the registry'));
      }, deps.refreshMs);
      timer.unref();
    },

    stop(): void {
      clearInterval(timer);
    },
  };
}

export type ObjectionGate = ReturnType<typeof createObjectionGate>;
