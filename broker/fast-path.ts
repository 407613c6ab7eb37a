import type { EventEmitter } from 'node:events';
import type { Client } from 'aedes';

/**
 * The parts of an aedes 1.2 client (lib/client.js) the fast path works with.
 * They are private to aedes: `attachFastPath` checks they are there and leaves
 * the client to aedes alone when a later aedes has moved them.
 */
interface ClientInternals {
  _parser: EventEmitter;
  /** Packets of the current socket read still being handled; the next read waits for 0. */
  _parsingBatch: number;
  /** Called once per packet handled; with an error it tears the connection down. */
  _nextBatch: (err?: Error | null) => void;
  _keepaliveTimer: NodeJS.Timeout | null;
  _keepaliveInterval: number;
  connackSent: boolean;
  connecting: boolean;
  connected: boolean;
  errored: boolean;
  conn: NodeJS.WritableStream;
  waitForDrain(callback: (err?: Error | null) => void): void;
}

interface PublishPacket {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  messageId?: number;
}

export interface FastPathRoute {
  /** The one topic this client may publish telemetry to. */
  telemetry: string;
  /** Rate limit and ingest; resolves once the transport holds the message. */
  admit(payload: Buffer): Promise<void>;
}

export interface FastPathDeps {
  /** The client's route once it is authenticated; undefined before. */
  route(client: Client): FastPathRoute | undefined;
  /** Told of each message the fast path took (after it settled). */
  taken?(qos: 0 | 1): void;
  /** Told when `admit` failed: the connection is then closed and the device resends. */
  failed?(client: Client, err: unknown): void;
}

/**
 * Takes a device's own telemetry PUBLISHes (QoS 0 and 1) away from aedes'
 * handler: nothing subscribes to a telemetry topic (the ACL lets a device
 * subscribe only to its commands), so aedes' emitter and persistence would
 * route each message to no one — and they are the broker's ceiling (~24k
 * msg/s at QoS 1, and a stack overflow past it). Everything else (CONNECT,
 * SUBSCRIBE, PING, QoS 2, any other topic, and packets that arrive before the
 * CONNACK) still goes to aedes, which applies the ACL and counts refusals.
 *
 * The semantics are today's: the PUBACK is written only after `admit` has
 * resolved, i.e. after the transport acknowledged the point (fsynced in the
 * spool); when it fails, the connection is torn down unacknowledged, as
 * aedes does for an `authorizePublish` error, and the device resends. A
 * resent (DUP) message is ingested again; the store keeps one point for a
 * device and timestamp, so it is harmless. The next socket read still waits
 * until every packet of the current one is handled, so a device waits for
 * its PUBACKs under backpressure exactly as before.
 *
 * Returns false (and changes nothing) if the client does not have the shape
 * this was written for.
 */
export function attachFastPath(client: Client, deps: FastPathDeps): boolean {
  const c = client as unknown as ClientInternals;
  if (
    typeof c._parser?.listeners !== 'function' ||
    typeof c._nextBatch !== 'function' ||
    typeof c._parsingBatch !== 'number' ||
    typeof c.waitForDrain !== 'function'
  ) {
    return false;
  }
  const listeners = c._parser.listeners('packet');
  const aedesEnqueue = listeners[0] as ((this: EventEmitter, packet: unknown) => void) | undefined;
  if (listeners.length !== 1 || !aedesEnqueue) return false;
  c._parser.removeListener('packet', aedesEnqueue);

  c._parser.on('packet', function onPacket(this: EventEmitter, packet: { cmd: string }) {
    const route = fastRoute(packet);
    if (!route) return aedesEnqueue.call(this, packet);
    const publish = packet as PublishPacket;
    // As aedes' enqueue and handle do for every packet (lib/client.js, lib/handlers/index.js).
    c._parsingBatch++;
    if (c._keepaliveInterval > 0) c._keepaliveTimer?.refresh();
    const qos = publish.qos as 0 | 1;
    route.admit(publish.payload).then(
      () => {
        if (qos === 0) return settle(null, 0);
        writePuback(publish.messageId as number, (err) => settle(err, 1));
      },
      (err: unknown) => {
        deps.failed?.(client, err);
        c._nextBatch(err instanceof Error ? err : new Error('not accepted'));
      },
    );
  });

  function fastRoute(packet: { cmd: string }): FastPathRoute | undefined {
    if (packet.cmd !== 'publish' || !c.connackSent) return undefined;
    const { qos, topic } = packet as PublishPacket;
    // [MQTT-4.3.3] QoS 2's PUBREC/PUBREL/PUBCOMP exchange stays with aedes.
    if (qos !== 0 && qos !== 1) return undefined;
    const route = deps.route(client);
    return route && topic === route.telemetry ? route : undefined;
  }

  function settle(err: Error | null, qos: 0 | 1): void {
    if (!err) deps.taken?.(qos);
    c._nextBatch(err);
  }

  // [MQTT-3.4] PUBACK: fixed header 0x40, remaining length 2, packet identifier.
  // aedes accepts MQTT 3.1 and 3.1.1 only, where this is the whole packet.
  function writePuback(messageId: number, done: (err: Error | null) => void): void {
    if (!(c.connecting || c.connected)) {
      setImmediate(done, new Error('connection closed'));
      return;
    }
    const packet = Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff]);
    let written: boolean;
    try {
      written = c.conn.write(packet);
    } catch {
      setImmediate(done, new Error('connection closed'));
      return;
    }
    // As aedes' write (lib/write.js): a full socket buffer holds this client's
    // next read until it drains; otherwise yield to the event loop first.
    if (!written && !c.errored) c.waitForDrain((err) => done(err ?? null));
    else setImmediate(done, null);
  }

  return true;
}
