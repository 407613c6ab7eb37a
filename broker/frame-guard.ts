import { Transform, type TransformCallback } from 'node:stream';
import type { Client } from 'aedes';

/**
 * Reads MQTT fixed headers as bytes arrive and fails the connection as soon
 * as a packet announces a remaining length over the limit — before the
 * parser buffers it. aedes has no packet-size limit of its own, and a device
 * that sends one 200 MB PUBLISH must not get 200 MB of our memory.
 * [MQTT-2.2.3]: remaining length is a variable byte integer of up to 4 bytes.
 */
export class PacketTooLargeError extends Error {
  readonly size: number;

  constructor(size: number) {
    super(`MQTT packet of ${size} bytes exceeds the limit`);
    this.size = size;
    this.name = 'PacketTooLargeError';
  }
}

/** Scans a connection's bytes in order, chunk by chunk; the error for the first packet over the limit. */
export function createFrameScanner(
  maxPacketBytes: number,
): (chunk: Buffer) => PacketTooLargeError | undefined {
  // State of the packet being read: bytes of it still to skip, or header parsing.
  let skip = 0;
  let headerBytes = 0; // bytes of the fixed header seen so far (first byte + length bytes)
  let length = 0;
  let multiplier = 1;

  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++] as number;
      if (headerBytes === 0) {
        headerBytes = 1;
        length = 0;
        multiplier = 1;
        continue;
      }
      headerBytes++;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if (byte & 0x80) {
        if (headerBytes > 5) return new PacketTooLargeError(Number.POSITIVE_INFINITY);
        continue;
      }
      const total = headerBytes + length;
      if (total > maxPacketBytes) return new PacketTooLargeError(total);
      skip = length;
      headerBytes = 0;
    }
    return undefined;
  };
}

/**
 * The guard as a stream between the socket and aedes: for an aedes whose
 * client `guardParser` does not know. Every chunk then crosses two more
 * stream layers, each way.
 */
export function createFrameGuard(maxPacketBytes: number): Transform {
  const scan = createFrameScanner(maxPacketBytes);
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      const err = scan(chunk);
      if (err) callback(err);
      else callback(null, chunk);
    },
  });
}

/**
 * The guard inside aedes' client (lib/client.js): each socket read is scanned
 * before aedes hands it to its MQTT parser, so the socket goes to aedes as it
 * is. On a packet over the limit, `refuse` is called (it must close the
 * connection) and the read is dropped. Returns false, changing nothing, when
 * the client does not have the parser this was written for (aedes 1.2).
 */
export function guardParser(
  client: Client,
  maxPacketBytes: number,
  refuse: (err: PacketTooLargeError) => void,
): boolean {
  const parser = (client as unknown as { _parser?: { parse?: (buf: Buffer) => unknown } })._parser;
  const parse = parser?.parse;
  if (!parser || typeof parse !== 'function') return false;
  const scan = createFrameScanner(maxPacketBytes);
  parser.parse = (buf: Buffer) => {
    const err = scan(buf);
    if (!err) return parse.call(parser, buf);
    refuse(err);
    return 0;
  };
  return true;
}
