import type { Point } from '../lib/point.ts';
import { encodePoint } from '../store/line-protocol.ts';
import type { LineRecord } from './line-record.ts';

/**
 * Records of the spool format before line protocol: JSON `[tenantId, point]`.
 * A spool directory left by that version is replayed, not refused: its
 * records were acknowledged to devices, so they must reach the store. They
 * are decoded and encoded here, once, on the drainer's slow path; new records
 * never come this way.
 *
 * Throws a non-retryable StoreError (SKJOLD_ERR_STORE_WRITE) for a point the
 * store could never take; the drainer counts it and passes over it, as the
 * store writer does for a refused batch.
 */
export function decodeLegacy(payload: Buffer): LineRecord {
  const [tenantId, point] = JSON.parse(payload.toString('utf8')) as [string, Point];
  return { tenantId, line: Buffer.from(encodePoint(point)) };
}
