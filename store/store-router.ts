/**
 * A TelemetryStore over several InfluxDB servers: each call goes to the
 * server the registry places the tenant on (registry/tenant-placement.ts), so
 * ingest's writer, erasure, retention, export, telemetry queries, fleet
 * statistics and the console need not know there is more than one.
 *
 * While a tenant moves (store/tenant-move.ts) writes go to the target, reads
 * to the source (which holds everything up to the switch), and statements
 * that change data (erasure, retention) to both, one at a time with the
 * copy's batches: a batch read before an erasure can then never be written
 * back after it (art. 17: an erased reading must not reappear on the target).
 */

import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Point } from '../lib/point.ts';
import type { Placement, TenantPlacement } from '../registry/tenant-placement.ts';
import type { QueryResult, TelemetryStore } from './telemetry-store.ts';

export interface StoreRouterOptions {
  /** The configured stores by name (store/store-list.ts). */
  stores: ReadonlyMap<string, TelemetryStore>;
  placement: Pick<TenantPlacement, 'all' | 'get' | 'place'>;
  /** Where a tenant without a place is put (SKJOLD_INFLUX_NEW_TENANT_STORE). */
  newTenantStore: string;
  /** Re-reads every placement this often, to see moves run by another instance; 0: never. */
  refreshMs: number;
  logger?: Logger;
}

export interface StoreRouter extends TelemetryStore {
  /** A configured store by name; SKJOLD_ERR_NOT_FOUND for a name not configured. */
  store(name: string): TelemetryStore;
  names(): string[];
  /** The tenant's placement (the registry's, through the cache). */
  placementOf(tenantId: string): Promise<Placement>;
  /**
   * Takes a placement a move has just recorded, and resolves once no write
   * this router started for the tenant to another store is still running.
   */
  update(placement: Placement): Promise<void>;
  /** Runs `fn` while no data-changing statement (erasure, retention) for the tenant runs. */
  exclusive<T>(tenantId: string, fn: () => Promise<T>): Promise<T>;
  /** Re-reads every placement from the registry. */
  refresh(): Promise<void>;
}

export function createStoreRouter(options: StoreRouterOptions): StoreRouter {
  const { stores, placement } = options;
  const cache = new Map<string, Placement>();
  // A refresh that began before an update must not put back what the update replaced.
  let generation = 0;
  const inflight = new Map<string, Set<{ store: string; done: Promise<unknown> }>>();
  const locks = new Map<string, Promise<unknown>>();

  const store = (name: string): TelemetryStore => {
    const s = stores.get(name);
    if (!s) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `no store named ${name} is configured`);
    return s;
  };
  const first = stores.values().next().value as TelemetryStore;

  async function placementOf(tenantId: string): Promise<Placement> {
    const cached = cache.get(tenantId);
    if (cached) return cached;
    const found = await placement.get(tenantId);
    if (found) cache.set(tenantId, found);
    // Unplaced (never written): read where it would be placed, without placing it.
    return found ?? { tenantId, store: options.newTenantStore, movingTo: null, dropFrom: null };
  }

  async function placed(tenantId: string): Promise<Placement> {
    const cached = cache.get(tenantId);
    if (cached) return cached;
    first.databaseFor(tenantId); // refuse an invalid id before it reaches the registry
    const p = (await placement.get(tenantId)) ?? (await placement.place(tenantId, options.newTenantStore));
    cache.set(tenantId, p);
    return p;
  }

  /** Where statements that change data go: both ends of a move. */
  const everywhere = (p: Placement): TelemetryStore[] =>
    [p.store, ...(p.movingTo ? [p.movingTo] : [])].map(store);

  function exclusive<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const before = locks.get(tenantId) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    locks.set(tenantId, tail);
    void tail.then(() => {
      if (locks.get(tenantId) === tail) locks.delete(tenantId);
    });
    return run;
  }

  /** A write to the tenant's store (the target while it moves), counted until settled so a move can wait for it. */
  async function tracked(tenantId: string, write: (target: TelemetryStore) => Promise<void>): Promise<void> {
    const p = await placed(tenantId);
    const name = p.movingTo ?? p.store;
    const done = write(store(name));
    const set = inflight.get(tenantId) ?? new Set();
    inflight.set(tenantId, set);
    const entry = { store: name, done };
    set.add(entry);
    try {
      await done;
    } finally {
      set.delete(entry);
    }
  }

  async function refresh(): Promise<void> {
    const at = generation;
    const all = await placement.all();
    if (at !== generation) return;
    cache.clear();
    for (const p of all) cache.set(p.tenantId, p);
  }

  const timer =
    options.refreshMs > 0
      ? setInterval(() => {
          refresh().catch((err: unknown) =>
            options.logger?.warn({ err }, 'store placement not re-read; the next refresh tries again'),
          );
        }, options.refreshMs)
      : undefined;
  timer?.unref();

  return {
    store,
    names: () => [...stores.keys()],
    placementOf,
    exclusive,
    refresh,

    async update(p) {
      generation++;
      cache.set(p.tenantId, p);
      const target = p.movingTo ?? p.store;
      const running = [...(inflight.get(p.tenantId) ?? [])].filter((w) => w.store !== target);
      await Promise.allSettled(running.map((w) => w.done));
    },

    databaseFor: (tenantId) => first.databaseFor(tenantId),

    async ensureTenant(tenantId) {
      for (const s of everywhere(await placed(tenantId))) await s.ensureTenant(tenantId);
    },

    write(tenantId: string, points: readonly Point[]) {
      return tracked(tenantId, (target) => target.write(tenantId, points));
    },

    // The spool's drainer sends line protocol as it was spooled; it goes where points would.
    writeLines(tenantId: string, lines: Buffer) {
      return tracked(tenantId, (target) => target.writeLines(tenantId, lines));
    },

    async query(tenantId, influxql): Promise<QueryResult[]> {
      first.databaseFor(tenantId);
      return store((await placementOf(tenantId)).store).query(tenantId, influxql);
    },

    async execute(tenantId, influxql): Promise<QueryResult[]> {
      first.databaseFor(tenantId);
      // Under the tenant's lock, placement read inside it: a move cannot switch or copy halfway through.
      return exclusive(tenantId, async () => {
        const p = await placementOf(tenantId);
        if (p.movingTo && /\bINTO\b/i.test(influxql)) {
          // SELECT … INTO (anonymisation) on two halves of the data would aggregate each half apart.
          throw new SkjoldError(
            'SKJOLD_ERR_MOVE_RUNNING',
            `tenant ${tenantId} is moving; run this after the move`,
          );
        }
        let results: QueryResult[] = [];
        for (const s of everywhere(p)) results = await s.execute(tenantId, influxql);
        return results;
      });
    },

    async grantReader(tenantId, username, password) {
      const p = await placementOf(tenantId);
      const targets = new Set([p.store, ...(p.movingTo ? [p.movingTo] : [])]);
      for (const name of targets) await store(name).grantReader(tenantId, username, password);
      // One credential, one tenant: a login left on another server would still read what it held there.
      for (const [name, s] of stores) if (!targets.has(name)) await s.revokeReader(username);
    },

    async revokeReader(username) {
      for (const s of stores.values()) await s.revokeReader(username);
    },

    async ping() {
      const answers = await Promise.all([...stores.values()].map((s) => s.ping()));
      return answers.every(Boolean);
    },

    async close() {
      if (timer) clearInterval(timer);
      await Promise.all([...stores.values()].map((s) => s.close()));
    },
  };
}
