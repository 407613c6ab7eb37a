import type { EventEmitter } from 'node:events';
import type { Client } from 'aedes';
import { type PublishFields, readPublish } from './publish-reader.ts';

/**
 * The parts of an aedes 1.2 client (lib/client.js) the fast path works with.
 * They are private to aedes: `attachFastPath` checks they are there and leaves
 * the client to aedes alone when a later aedes has moved them.
 */
interface ClientInternals {
  _parser: EventEmitter & ParserInternals;
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

/** mqtt-packet 9's parser (parser.js): its input, and whether it holds part of a packet. */
interface ParserInternals {
  parse(buf: Buffer): unknown;
  /** Bytes received and not yet parsed (a BufferList). */
  _list: { length: number };
  /** 0 between packets; past the fixed header otherwise. */
  _stateCounter: number;
  error: Error | null;
  settings?: { protocolVersion?: number };
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
  admit(payload: Buffer): Promise<unknown>;
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
    typeof c._parser.parse !== 'function' ||
    typeof c._parser._list?.length !== 'number' ||
    typeof c._parser._stateCounter !== 'number' ||
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
    take(route, publish.qos as 0 | 1, publish.messageId ?? 0, publish.payload);
  });

  // The device's own telemetry PUBLISHes at the start of each socket read are
  // read here (publish-reader.ts), while mqtt-packet holds no partial packet;
  // from the first other packet on, the rest of the read goes to mqtt-packet
  // and then to onPacket above, in order. Telemetry therefore takes the same
  // path, with the same checks, whichever parser read it.
  const parser = c._parser;
  const parse = parser.parse;
  const fields: PublishFields = { qos: 0, messageId: 0, payloadStart: 0, end: 0 };
  let topicBytes: { topic: string; bytes: Buffer } | undefined;
  parser.parse = function readFast(buf: Buffer) {
    let at = 0;
    const route = between(parser) && c.connackSent ? deps.route(client) : undefined;
    if (route) {
      if (topicBytes?.topic !== route.telemetry) {
        topicBytes = { topic: route.telemetry, bytes: Buffer.from(route.telemetry, 'utf8') };
      }
      while (readPublish(buf, at, topicBytes.bytes, fields)) {
        const { qos, messageId, payloadStart, end } = fields;
        at = end;
        take(route, qos, messageId, buf.subarray(payloadStart, end));
      }
    }
    if (at === 0) return parse.call(parser, buf);
    return at < buf.length ? parse.call(parser, buf.subarray(at)) : 0;
  };

  function take(route: FastPathRoute, qos: 0 | 1, messageId: number, payload: Buffer): void {
    // As aedes' enqueue and handle do for every packet (lib/client.js, lib/handlers/index.js).
    c._parsingBatch++;
    if (c._keepaliveInterval > 0) c._keepaliveTimer?.refresh();
    route.admit(payload).then(
      () => {
        if (qos === 0) return settle(null, 0);
        writePuback(messageId, (err) => settle(err, 1));
      },
      (err: unknown) => {
        deps.failed?.(client, err);
        c._nextBatch(err instanceof Error ? err : new Error('not accepted'));
      },
    );
  }

  /** mqtt-packet is between packets: nothing buffered, no error, MQTT 3.1/3.1.1 (aedes 1.2 speaks no other). */
  function between(p: ParserInternals): boolean {
    return p._list.length === 0 && p._stateCounter === 0 && !p.error && p.settings?.protocolVersion !== 5;
  }

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

  // PUBACKs due in the same turn of the event loop leave in one write. A group
  // commit acknowledges hundreds of messages at once, several of them this
  // device's; a write each cost a syscall here and a wake-up in the device.
  let due: { ids: number[]; done: Array<(err: Error | null) => void> } | undefined;

  function writePuback(messageId: number, done: (err: Error | null) => void): void {
    if (!due) {
      due = { ids: [], done: [] };
      setImmediate(flushPubacks);
    }
    due.ids.push(messageId);
    due.done.push(done);
  }

  // [MQTT-3.4] PUBACK: fixed header 0x40, remaining length 2, packet identifier.
  // aedes accepts MQTT 3.1 and 3.1.1 only, where this is the whole packet.
  function flushPubacks(): void {
    const { ids, done } = due as NonNullable<typeof due>;
    due = undefined;
    const finish = (err: Error | null) => {
      for (const d of done) d(err);
    };
    if (!(c.connecting || c.connected)) {
      finish(new Error('connection closed'));
      return;
    }
    const packets = Buffer.allocUnsafe(4 * ids.length);
    for (let i = 0; i < ids.length; i++) {
      packets[4 * i] = 0x40;
      packets[4 * i + 1] = 0x02;
      packets.writeUInt16BE(ids[i] as number, 4 * i + 2);
    }
    let written: boolean;
    try {
      written = c.conn.write(packets);
    } catch {
      finish(new Error('connection closed'));
      return;
    }
    // As aedes' write (lib/write.js): a full socket buffer holds this client's
    // next read until it drains. Otherwise the read goes on now: this already
    // runs a turn of the event loop after the acknowledgements were due.
    if (!written && !c.errored) c.waitForDrain((err) => finish(err ?? null));
    else finish(null);
  }

  return true;
}
