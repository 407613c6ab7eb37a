import { crc32 } from 'node:zlib';
import type { Point } from '../lib/point.ts';

/**
 * One spool record on disk:
 *
 *   [u32 BE payload length][u32 BE CRC32 of length bytes + payload][payload]
 *
 * The payload is the JSON of `[tenantId, point]`: a Point as ingest produced
 * it, already pseudonymised — the spool never sees a raw identifier. The CRC
 * covers the length too, so a torn or overwritten header is caught as surely
 * as a torn payload.
 */
export const FRAME_HEADER_BYTES = 8;
/** A record larger than this is a corrupt length, not a record (MQTT packets are far smaller). */
export const FRAME_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export interface SpoolRecord {
  tenantId: string;
  point: Point;
}

export function encodeFrame(tenantId: string, point: Point): Buffer {
  const payload = Buffer.from(JSON.stringify([tenantId, point]));
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, FRAME_HEADER_BYTES);
  frame.writeUInt32BE(crc32(payload, crc32(frame.subarray(0, 4))), 4);
  return frame;
}

export type FrameResult =
  | { kind: 'record'; payload: Buffer; bytes: number }
  /** The buffer ends inside this frame: read more, or it is a torn tail. */
  | { kind: 'partial' }
  /** Length out of range or CRC mismatch: never to be parsed. */
  | { kind: 'corrupt'; reason: 'length' | 'crc' };

/** Reads the frame starting at `offset` in `buf`. */
export function readFrame(buf: Buffer, offset: number): FrameResult {
  if (buf.length - offset < FRAME_HEADER_BYTES) return { kind: 'partial' };
  const length = buf.readUInt32BE(offset);
  if (length === 0 || length > FRAME_MAX_PAYLOAD_BYTES) return { kind: 'corrupt', reason: 'length' };
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'partial' };
  const payload = buf.subarray(offset + FRAME_HEADER_BYTES, end);
  const expected = buf.readUInt32BE(offset + 4);
  if (crc32(payload, crc32(buf.subarray(offset, offset + 4))) !== expected) {
    return { kind: 'corrupt', reason: 'crc' };
  }
  return { kind: 'record', payload, bytes: FRAME_HEADER_BYTES + length };
}

export function decodePayload(payload: Buffer): SpoolRecord {
  const [tenantId, point] = JSON.parse(payload.toString('utf8')) as [string, Point];
  return { tenantId, point };
}
