import type { Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { createBatchQueue, flushPerTenant } from './batch-queue.ts';
import type { StoreWriter } from './store-writer.ts';
import type { Transport } from './transport.ts';

export interface InProcessOptions {
  writer: StoreWriter;
  metrics: Metrics;
  /** Points per store write. */
  batchPoints: number;
  /** A partial batch is written after this many ms. */
  maxWaitMs: number;
  /** Points held (queued + being written) before `send` makes callers wait. */
  bufferPoints: number;
  /** Batches written at once; the store's sockets are bounded too. */
  concurrency?: number;
}

type Item = { tenantId: string; point: Point };

/**
 * Ingest and store in one process: a bounded queue drained in batches. `send`
 * resolves only after the store accepted the point, so a device's PUBACK means
 * "stored". When the store is slow or down, the queue fills and `send` waits
 * for room (transport/batch-queue.ts): nothing unstored is acknowledged.
 */
export function createInProcessTransport(options: InProcessOptions): Transport {
  const { writer } = options;

  const queue = createBatchQueue<Item>({
    // One store write per tenant in the batch; each tenant's points succeed or fail together.
    flush: (batch) =>
      flushPerTenant(batch, (tenantId, items) =>
        writer.write(
          tenantId,
          items.map((i) => i.point),
        ),
      ),
    batchSize: options.batchPoints,
    maxWaitMs: options.maxWaitMs,
    bufferItems: options.bufferPoints,
    concurrency: options.concurrency ?? 2,
    gauges: options.metrics,
  });

  return {
    send: (tenantId, point) => queue.push({ tenantId, point }),
    close: (deadlineMs = 10_000) => queue.close(deadlineMs),
    buffered: queue.held,
    drained: queue.settled,
  };
}
