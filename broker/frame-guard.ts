import { Transform, type TransformCallback } from 'node:stream';

/**
 * Reads MQTT fixed headers as bytes arrive and fails the stream as soon as a
 * packet announces a remaining length over the limit — before the parser
 * buffers it. aedes has no packet-size limit of its own, and a device that
 * sends one 200 MB PUBLISH must not get 200 MB of our memory.
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

export function createFrameGuard(maxPacketBytes: number): Transform {
  // State of the packet being read: bytes of it still to skip, or header parsing.
  let skip = 0;
  let headerBytes = 0; // bytes of the fixed header seen so far (first byte + length bytes)
  let length = 0;
  let multiplier = 1;

  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
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
          if (headerBytes > 5) return callback(new PacketTooLargeError(Number.POSITIVE_INFINITY));
          continue;
        }
        const total = headerBytes + length;
        if (total > maxPacketBytes) return callback(new PacketTooLargeError(total));
        skip = length;
        headerBytes = 0;
      }
      callback(null, chunk);
    },
  });
}
