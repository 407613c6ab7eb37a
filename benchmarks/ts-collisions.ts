/**
 * Counts messages a device publishes with the same timestamp as its previous
 * one. InfluxDB keys a point by series (one per device) and time, so such a
 * message overwrites the one before it: stored fewer than acknowledged, with
 * nothing lost by Skjold. The load generator stamps all messages of one
 * 10 ms tick alike; a device gets two in one tick only when a tick carries
 * more messages than there are devices (a stalled or throttled generator).
 * The load generator hands every message it publishes to `notePublish`
 * (its `onPublish` option).
 */

// runLoad's bodies start with `{"ts":"<24-character ISO time>"`.
const TS_START = 7;
const TS_END = TS_START + 24;

let collisions = 0;
const lastTs = new Map<string, string>();
/** Logins whose overwritten seqs are wanted (the latency sample), and those seqs. */
let watched = new Map<string, number[]>();
const SEQ_AT = TS_END + 8; // after `","seq":`

/** One published message of `login`, its body as runLoad wrote it. */
export function notePublish(login: string, body: string): void {
  const ts = body.slice(TS_START, TS_END);
  if (lastTs.get(login) === ts) {
    collisions++;
    // Either of the two may be the one InfluxDB keeps; both are out of the latency sample.
    const seqs = watched.get(login);
    if (seqs) {
      const seq = Number.parseInt(body.slice(SEQ_AT, body.indexOf(',', SEQ_AT)), 10);
      seqs.push(seq - 1, seq);
    }
  } else lastTs.set(login, ts);
}

/** Starts counting afresh; seqs of `logins` involved in a collision will be listed. */
export function resetCollisions(logins: string[]): void {
  collisions = 0;
  lastTs.clear();
  watched = new Map(logins.map((l) => [l, []]));
}

/**
 * Collisions since the reset, and per watched topic the seqs involved; with `forget`, those seqs
 * are handed over once (a long load reads them as it goes and keeps none).
 */
export function takeCollisions(forget = false): { count: number; seqs: Map<string, number[]> } {
  const seqs = watched;
  if (forget) watched = new Map([...seqs.keys()].map((t) => [t, []]));
  return { count: collisions, seqs };
}
