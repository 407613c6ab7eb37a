import { SkjoldError } from '../lib/errors.ts';
import type { Point } from '../lib/point.ts';
import { writePoint } from '../store/line-protocol.ts';

/**
 * One pseudonymised point as the store will be sent it, behind the small
 * header a reader routes it by:
 *
 *   [u8 kind = 0x01][u8 tenant id length][tenant id][the point's line-protocol bytes]
 *
 * The spool's records (spool-frame.ts, inside a frame with length and CRC) and
 * the Kafka topic's (kafka-message.ts) are this, so the spool's drainer and the
 * Kafka store writers join lines into a write body without decoding anything.
 * A point is made into its line by ingest, after pseudonymisation: a raw
 * identifier never reaches a record.
 */
export const KIND_LINE = 0x01;
const TENANT_MAX_BYTES = 255;

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
  // Tenant ids are ASCII (api/routes-tenants.ts), one byte a character.
  const tenantBytes = tenantId.length;
  if (tenantBytes > TENANT_MAX_BYTES) {
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'tenant id is too long for a record');
  }
  const line = at + 2 + tenantBytes;
  const end = line > buf.length ? -1 : writePoint(point, buf, line);
  if (end < 0) return -1;
  buf[at] = KIND_LINE;
  buf[at + 1] = tenantBytes;
  for (let i = 0; i < tenantBytes; i++) buf[at + 2 + i] = tenantId.charCodeAt(i);
  return end;
}

/** A line record's tenant and line; undefined for bytes of any other kind. */
export function decodeLine(record: Buffer): LineRecord | undefined {
  if (record[0] !== KIND_LINE) return undefined;
  const tenantBytes = record[1] ?? 0;
  return {
    tenantId: record.toString('latin1', 2, 2 + tenantBytes),
    line: record.subarray(2 + tenantBytes),
  };
}
