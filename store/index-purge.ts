/**
 * InfluxDB 1.6's in-memory index can keep listing a dropped series' tag
 * values in `SHOW TAG VALUES` although the series and its points are gone
 * (influxdata/influxdb#10285: after the first `DROP SERIES` the measurement
 * index is rebuilt into a new object while the remaining series still point
 * at the old one, so later drops never reach the new tag-value map). influxd
 * rebuilds the index from its files when it starts, and then the values are
 * gone. A pseudonym that was erased must not stay visible, so after every
 * erasure and retention run Skjold checks for such leftovers and, when it runs
 * influxd itself, restarts it; with an external InfluxDB the leftovers are
 * reported (receipts, metric) until its operator restarts it.
 */
import type { TelemetryStore } from './telemetry-store.ts';

export type IndexState =
  /** None of the pseudonyms is listed. */
  | { state: 'clean' }
  /** They were listed; influxd was restarted and now none is. */
  | { state: 'purged'; stale: number }
  /** They are still listed: an external InfluxDB needs a restart. */
  | { state: 'pending'; stale: number; action: string };

export interface IndexPurge {
  /** Of `pseudonyms`, those the tenant's database still lists as `device` tag values. */
  listed(tenantId: string, pseudonyms: readonly string[]): Promise<string[]>;
  /** Makes sure none of `pseudonyms` is listed any more, restarting a managed influxd if needed. */
  ensureGone(tenantId: string, pseudonyms: readonly string[]): Promise<IndexState>;
  /** True when Skjold can rebuild the index itself (it manages influxd). */
  readonly canPurge: boolean;
}

/**
 * `restartInfluxd` restarts the influxd that holds the tenant's database; it
 * answers false when Skjold does not run that one (a tenant on another store,
 * docs/stores.md), which is then reported like an external InfluxDB.
 */
export function createIndexPurge(
  store: TelemetryStore,
  restartInfluxd?: (tenantId: string) => Promise<unknown>,
): IndexPurge {
  // One check at a time: a check must not query influxd while another restarts it, and
  // erasures that finish together then share one restart (the later ones find nothing listed).
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  async function listed(tenantId: string, pseudonyms: readonly string[]): Promise<string[]> {
    if (pseudonyms.length === 0) return [];
    const wanted = new Set(pseudonyms);
    const results = await store.query(tenantId, 'SHOW TAG VALUES WITH KEY = "device"');
    const found = new Set<string>();
    for (const series of results[0]?.series ?? []) {
      for (const row of series.values) {
        const value = row[1];
        if (typeof value === 'string' && wanted.has(value)) found.add(value);
      }
    }
    return [...found];
  }

  return {
    listed,
    canPurge: restartInfluxd !== undefined,
    ensureGone: (tenantId, pseudonyms) => serially(() => ensureGone(tenantId, pseudonyms)),
  };

  async function ensureGone(tenantId: string, pseudonyms: readonly string[]): Promise<IndexState> {
    const stale = await listed(tenantId, pseudonyms);
    if (stale.length === 0) return { state: 'clean' };
    if (!restartInfluxd || (await restartInfluxd(tenantId)) === false) {
      return {
        state: 'pending',
        stale: stale.length,
        action:
          'restart InfluxDB: its in-memory index still lists erased pseudonyms (data and series are gone)',
      };
    }
    const left = await listed(tenantId, pseudonyms);
    if (left.length > 0) {
      return {
        state: 'pending',
        stale: left.length,
        action: 'restart InfluxDB; the automatic restart left them listed',
      };
    }
    return { state: 'purged', stale: stale.length };
  }
}
