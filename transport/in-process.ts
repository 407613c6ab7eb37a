import { SkjoldError } from '../lib/errors.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import type { StoreWriter } from './store-writer.ts';
import type { Transport } from './transport.ts';

interface Pending {
  tenantId: string;
  point: Point;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Settles (never rejects) when the point was stored or failed. */
  settled: Promise<void>;
}

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

/**
 * Ingest and store in one process: a bounded queue drained in batches. `send`
 * resolves only after the store accepted the point, so a device's PUBACK means
 * "stored". When the store is slow or down, the queue fills, `send` waits for
 * room, the broker stops reading from devices, and TCP carries the pressure
 * back to them: nothing is dropped, nothing unstored is acknowledged.
 */
export function createInProcessTransport(options: InProcessOptions): Transport {
  const { writer, metrics, batchPoints, maxWaitMs, bufferPoints } = options;
  const concurrency = options.concurrency ?? 2;
  const queue: Pending[] = [];
  let inFlight = 0; // points being written
  let writing = 0; // batches being written
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const roomWaiters: Array<() => void> = [];
  const idleWaiters: Array<() => void> = [];
  const writingBatches = new Set<Pending[]>();

  const held = () => queue.length + inFlight;

  function updateGauges(): void {
    metrics.bufferedPoints.set(held());
    metrics.backpressure.set(roomWaiters.length > 0 ? 1 : 0);
  }

  function wakeForRoom(): void {
    while (roomWaiters.length > 0 && held() < bufferPoints) roomWaiters.shift()?.();
  }

  /** Called whenever points arrive or a writer frees up. */
  function schedule(): void {
    if (writing >= concurrency) return; // the batch that finishes calls schedule again
    if (queue.length >= batchPoints) drain();
    else if (timer === undefined && queue.length > 0) timer = setTimeout(drain, maxWaitMs);
  }

  function drain(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    while (writing < concurrency && queue.length > 0) void writeBatch(queue.splice(0, batchPoints));
  }

  async function writeBatch(batch: Pending[]): Promise<void> {
    writingBatches.add(batch);
    writing++;
    inFlight += batch.length;
    updateGauges();
    const byTenant = new Map<string, Pending[]>();
    for (const p of batch) {
      const list = byTenant.get(p.tenantId);
      if (list) list.push(p);
      else byTenant.set(p.tenantId, [p]);
    }
    await Promise.all(
      [...byTenant].map(async ([tenantId, items]) => {
        try {
          await writer.write(
            tenantId,
            items.map((i) => i.point),
          );
          for (const i of items) i.resolve();
        } catch (err) {
          for (const i of items) i.reject(err);
        }
      }),
    );
    writingBatches.delete(batch);
    writing--;
    inFlight -= batch.length;
    wakeForRoom();
    updateGauges();
    if (queue.length > 0) schedule();
    if (held() === 0) while (idleWaiters.length > 0) idleWaiters.shift()?.();
  }

  return {
    async send(tenantId, point) {
      while (!closed && held() >= bufferPoints) {
        await new Promise<void>((r) => {
          roomWaiters.push(r);
          updateGauges();
        });
      }
      if (closed) throw new SkjoldError('SKJOLD_ERR_TRANSPORT_CLOSED');
      const { promise: stored, resolve, reject } = Promise.withResolvers<void>();
      queue.push({ tenantId, point, resolve, reject, settled: stored.catch(() => {}) });
      schedule();
      return stored;
    },

    async close(deadlineMs = 10_000) {
      closed = true;
      while (roomWaiters.length > 0) roomWaiters.shift()?.();
      if (timer) clearTimeout(timer);
      timer = undefined;
      drain();
      if (held() === 0) return;
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => idleWaiters.push(r)),
        new Promise<void>((r) => {
          deadline = setTimeout(r, deadlineMs);
        }),
      ]);
      clearTimeout(deadline);
    },

    buffered: held,

    async drained() {
      const items = [...queue, ...[...writingBatches].flat()];
      await Promise.all(items.map((p) => p.settled));
    },
  };
}
