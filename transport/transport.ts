import type { Point } from '../lib/point.ts';

/**
 * The hop from ingest to the store. `send` resolves once the transport has
 * taken responsibility for the point — for the in-process transport, once the
 * store accepted it — and only then is the device's QoS 1 message
 * acknowledged. A Kafka transport resolves when Kafka acknowledged the write.
 */
export interface Transport {
  send(tenantId: string, point: Point): Promise<void>;
  /** Stops taking points and settles those in flight (stored, or failed after `deadlineMs`). */
  close(deadlineMs?: number): Promise<void>;
  /** Points accepted and not yet settled. */
  buffered(): number;
  /**
   * Resolves once every point accepted before the call has reached the store
   * (or failed for good). Erasure and retention wait for it before they drop
   * a device's series, so a point still in transit cannot bring one back.
   */
  drained(): Promise<void>;
}
