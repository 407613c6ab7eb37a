import { Counter, type CounterConfiguration, type LabelValues } from 'prom-client';

/** One label combination's count, added to its counter when the registry is read. */
export interface Tally {
  inc(n?: number): void;
}

export type TalliedCounter<T extends string> = Counter<T> & {
  /** The tally for `labels`; the same object for the same labels, so hold on to it. */
  tally(labels: LabelValues<T>): Tally;
};

/**
 * A counter for the per-message path. prom-client turns the label object into
 * a hash string on every `inc`; at tens of thousands of messages a second that
 * is a string built per message per counter. A tally is a plain number the
 * caller increments; the counter's `collect`, which prom-client runs before
 * every read of the counter (a scrape, `get()`), adds what each tally holds,
 * so a reader never sees less than was counted. `inc` with labels still works.
 */
export function talliedCounter<T extends string>(config: CounterConfiguration<T>): TalliedCounter<T> {
  const tallies = new Map<string, { labels: LabelValues<T>; n: number }>();
  const counter = new Counter<T>({
    ...config,
    collect() {
      for (const t of tallies.values()) {
        if (t.n === 0) continue;
        counter.inc(t.labels, t.n);
        t.n = 0;
      }
    },
  });
  return Object.assign(counter, {
    tally(labels: LabelValues<T>): Tally {
      const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
      let t = tallies.get(key);
      if (!t) {
        t = { labels: { ...labels }, n: 0 };
        tallies.set(key, t);
      }
      const entry = t;
      return {
        inc(n = 1) {
          entry.n += n;
        },
      };
    },
  });
}
