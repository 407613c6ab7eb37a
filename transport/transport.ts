import { SkjoldError } from '../lib/errors.ts';
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

/**
 * `drained()` with a deadline: erasure and retention must not drop series while
 * points are in transit, nor hang while the store (or, on the Kafka path, every
 * writer) is down. Past the deadline they fail and can be asked again.
 */
export async function drainedWithin(
  transport: Pick<Transport, 'drained'> | undefined,
  ms: number,
): Promise<void> {
  if (!transport) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      transport.drained(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new SkjoldError(
                'SKJOLD_ERR_STORE_UNAVAILABLE',
                `readings accepted earlier are still on their way to the store after ${Math.round(ms / 1000)} s; nothing was deleted, try again once it is reachable`,
              ),
            ),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
