/**
 * Counts messages a device publishes with the same timestamp as its previous
 * one. InfluxDB keys a point by series (one per device) and time, so such a
 * message overwrites the one before it: stored fewer than acknowledged, with
 * nothing lost by Skjold. The load generator stamps all messages of one
 * 10 ms tick alike; a device gets two in one tick only when a tick carries
 * more messages than there are devices (a stalled or throttled generator).
 * Observes `MqttClient.prototype.publish` in the load process only; behaviour
 * is unchanged.
 */
import { MqttClient } from 'mqtt';

// runLoad's bodies start with `{"ts":"<24-character ISO time>"`.
const TS_START = 7;
const TS_END = TS_START + 24;

let collisions = 0;
const lastTs = new Map<string, string>();
let installed = false;
/** Topics whose overwritten seqs are wanted (the latency sample), and those seqs. */
let watched = new Map<string, number[]>();
const SEQ_AT = TS_END + 8; // after `","seq":`

export function installCollisionCounter(): void {
  if (installed) return;
  installed = true;
  const proto = MqttClient.prototype as unknown as { publish: (...args: unknown[]) => unknown };
  const original = proto.publish;
  proto.publish = function publish(this: MqttClient, ...args: unknown[]) {
    const [topic, body] = args;
    if (typeof topic === 'string' && typeof body === 'string') {
      const ts = body.slice(TS_START, TS_END);
      if (lastTs.get(topic) === ts) {
        collisions++;
        // Either of the two may be the one InfluxDB keeps; both are out of the latency sample.
        const seqs = watched.get(topic);
        if (seqs) {
          const seq = Number.parseInt(body.slice(SEQ_AT, body.indexOf(',', SEQ_AT)), 10);
          seqs.push(seq - 1, seq);
        }
      } else lastTs.set(topic, ts);
    }
    return original.apply(this, args);
  };
}

/** Starts counting afresh; seqs of `topics` involved in a collision will be listed. */
export function resetCollisions(topics: string[]): void {
  collisions = 0;
  lastTs.clear();
  watched = new Map(topics.map((t) => [t, []]));
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
