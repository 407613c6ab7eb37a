import { SkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { writePoint } from '../store/line-protocol.ts';

/**
 * Pseudonymised points as the store will be sent them, behind the small
 * header a reader routes them by:
 *
 *   [u8 kind][u8 tenant id length][tenant id][line-protocol bytes]
 *
 * Kind 0x01 holds one point's line: the spool's records (spool-frame.ts,
 * inside a frame with length and CRC), and the Kafka topic's before packed
 * records. Kind 0x02 holds several points of one tenant, their lines
 * separated by a newline: the Kafka topic's records (kafka-message.ts).
 * The spool's drainer and the Kafka store writers join lines into a write
 * body without decoding anything. A point is made into its line by ingest,
 * after pseudonymisation: a raw identifier never reaches a record.
 */
export const KIND_LINE = 0x01;
export const KIND_LINES = 0x02;
const TENANT_MAX_BYTES = 255;

/** Bytes of the header before a record's lines. */
export const headerBytes = (tenantId: string) => 2 + tenantId.length;

/**
 * Writes a record's header into `buf` at `at` (which must hold `headerBytes`);
 * its lines start where it ends. Tenant ids are ASCII
 * (api/routes-tenants.ts), one byte a character.
 */
export function writeHeader(buf: Buffer, at: number, kind: number, tenantId: string): void {
  const tenantBytes = tenantId.length;
  if (tenantBytes > TENANT_MAX_BYTES) {
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'tenant id is too long for a record');
  }
  buf[at] = kind;
  buf[at + 1] = tenantBytes;
  for (let i = 0; i < tenantBytes; i++) buf[at + 2 + i] = tenantId.charCodeAt(i);
}

/** A record as a reader sees it: the line is a view into the record's bytes, not a copy. */
export interface LineRecord {
  tenantId: string;
  line: Buffer;
}

/**
 * Writes the record of one point for `tenantId` into `buf` from `at`: its line
 * protocol written straight into it (`writePoint`, store/line-protocol.ts),
 * with no line string in between. Returns where the record ends, or -1 when
 * `buf` cannot hold it. Throws as `encodePoint` does for a point the store
 * could not take.
 */
export function writeLineRecord(buf: Buffer, at: number, tenantId: string, point: Point): number {
  const line = at + headerBytes(tenantId);
  if (line > buf.length) return -1;
  writeHeader(buf, at, KIND_LINE, tenantId);
  return writePoint(point, buf, line);
}

/** A record's tenant and the bytes after its header (a view, not a copy); undefined for another kind. */
export function decodeHeader(record: Buffer, kind: number): LineRecord | undefined {
  if (record[0] !== kind) return undefined;
  const tenantBytes = record[1] ?? 0;
  return {
    tenantId: record.toString('latin1', 2, 2 + tenantBytes),
    line: record.subarray(2 + tenantBytes),
  };
}

/** A line record's tenant and line; undefined for bytes of any other kind. */
export const decodeLine = (record: Buffer) => decodeHeader(record, KIND_LINE);
