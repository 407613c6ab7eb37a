import { crc32 } from 'node:zlib';
import type { Point } from '../lib/point.ts';
import { KIND_LINE, writeLineRecord } from './line-record.ts';

/**
 * One spool record on disk:
 *
 *   [u32 BE payload length][u32 BE CRC32 of length bytes + payload][payload]
 *
 * The payload is a line record (line-record.ts): what the store will be sent,
 * behind the tenant id the drainer routes by, so the drainer joins lines into
 * a write body without decoding anything. The CRC covers the length too, so a torn or
 * overwritten header is caught as surely as a torn payload.
 *
 * Spools written before this format hold JSON `[tenantId, point]` payloads
 * (kind byte '['); they are still read, and written to the store on upgrade
 * (spool-legacy.ts). Any other kind is refused at start.
 */
export const FRAME_HEADER_BYTES = 8;
/** A record larger than this is a corrupt length, not a record (MQTT packets are far smaller). */
export const FRAME_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** '[': the first byte of a JSON payload, the format spools had before. */
export const KIND_LEGACY_JSON = 0x5b;

/** CRC-32 of the four length bytes alone, the seed the payload's CRC continues from (table-driven, no buffer view). */
const CRC_TABLE = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crcOfLength(buf: Buffer, at: number): number {
  let c = -1;
  for (let i = at; i < at + 4; i++) c = (CRC_TABLE[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Frames one point's line record (line-record.ts) for `tenantId` into `buf`
 * from `at`. Returns where the frame ends, or -1 when `buf` cannot hold it.
 * Throws as `encodePoint` does for a point the store could not take.
 */
export function writeFrame(buf: Buffer, at: number, tenantId: string, point: Point): number {
  const payload = at + FRAME_HEADER_BYTES;
  const end = writeLineRecord(buf, payload, tenantId, point);
  if (end < 0) return -1;
  buf.writeUInt32BE(end - payload, at);
  buf.writeUInt32BE(crc32(buf.subarray(payload, end), crcOfLength(buf, at)), at + 4);
  return end;
}

/** Frames a payload as it is (the JSON format's records, kept for tests of the upgrade). */
export function framePayload(payload: Buffer): Buffer {
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

/** Whether this version can read a payload: a line record, or one of the JSON format before it. */
export function knownKind(payload: Buffer): boolean {
  return payload[0] === KIND_LINE || payload[0] === KIND_LEGACY_JSON;
}
