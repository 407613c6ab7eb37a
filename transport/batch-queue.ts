import { SkjoldError } from '../lib/errors.ts';
import type { Metrics } from '../lib/metrics.ts';

/** One item waiting in the queue, and how its sender is told the outcome. */
export interface Job<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Hands a batch on as one write per tenant (one database each), in parallel:
 * each tenant's items succeed or fail together. The in-process transport and
 * the Kafka store writers flush through this.
 */
export async function flushPerTenant<T extends { tenantId: string }>(
  batch: Job<T>[],
  write: (tenantId: string, items: T[]) => Promise<void>,
): Promise<void> {
  const byTenant = new Map<string, Job<T>[]>();
  for (const job of batch) {
    const list = byTenant.get(job.item.tenantId);
    if (list) list.push(job);
    else byTenant.set(job.item.tenantId, [job]);
  }
  await Promise.all(
    [...byTenant].map(async ([tenantId, jobs]) => {
      try {
        await write(
          tenantId,
          jobs.map((j) => j.item),
        );
        for (const j of jobs) j.resolve();
      } catch (err) {
        for (const j of jobs) j.reject(err);
      }
    }),
  );
}

export interface BatchQueueOptions<T> {
  /** Hands a batch on; must settle every job in it (a throw rejects those it left open). */
  flush(batch: Job<T>[]): Promise<void>;
  /** Most items in one batch. */
  batchSize: number;
  /** A partial batch goes out after this many ms (counted from its first item, or from when the batch before it settled). */
  maxWaitMs: number;
  /** Items held (queued + being flushed) before `push` makes callers wait. */
  bufferItems: number;
  /** Batches out at once. */
  concurrency: number;
  /** `skjold_transport_buffered_points` and `skjold_transport_backpressure`. */
  gauges: Pick<Metrics, 'bufferedPoints' | 'backpressure'>;
}

export interface BatchQueue<T> {
  /** Resolves when the item's batch was handed on; waits for room while the buffer is full. */
  push(item: T): Promise<void>;
  /** Stops taking items, flushes what is queued, waits up to `deadlineMs`; what is still queued then is refused. */
  close(deadlineMs: number): Promise<void>;
  /** Items accepted and not yet settled. */
  held(): number;
  /** Resolves once every item held at the call has settled (handed on or refused). */
  settled(): Promise<void>;
}

interface Entry<T> {
  item: T;
  /** The sender's promise. */
  settle: { resolve: () => void; reject: (err: unknown) => void };
  /** Settles (never rejects) with the item. */
  done: Promise<void>;
}

/**
 * The bounded batching queue behind the in-process and Kafka transports.
 * When the far side is slow or down the buffer fills, `push` waits for room,
 * the broker stops reading from devices and TCP carries the pressure back to
 * them: nothing is dropped, and nothing is acknowledged before it was handed on.
 */
export function createBatchQueue<T>(options: BatchQueueOptions<T>): BatchQueue<T> {
  const { batchSize, maxWaitMs, bufferItems, concurrency, gauges } = options;
  const queue: Entry<T>[] = [];
  const out = new Set<Entry<T>[]>();
  let outItems = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const roomWaiters: Array<() => void> = [];
  const idleWaiters: Array<() => void> = [];

  const held = () => queue.length + outItems;

  function updateGauges(): void {
    gauges.bufferedPoints.set(held());
    gauges.backpressure.set(roomWaiters.length > 0 ? 1 : 0);
  }

  /** Called whenever items arrive: a full batch goes now, a partial one after `maxWaitMs`. */
  function schedule(): void {
    if (out.size >= concurrency) return; // the batch that settles schedules again
    if (queue.length >= batchSize) send();
    else if (timer === undefined && queue.length > 0) timer = setTimeout(send, maxWaitMs);
  }

  function send(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    while (out.size < concurrency && queue.length > 0) void flushBatch(queue.splice(0, batchSize));
  }

  async function flushBatch(batch: Entry<T>[]): Promise<void> {
    out.add(batch);
    outItems += batch.length;
    updateGauges();
    // Outcomes are recorded and handed to the senders only after the batch has left the
    // count, so a sender that resumes sees the room its item freed.
    const outcomes: Array<{ ok: true } | { ok: false; err: unknown } | undefined> = [];
    const jobs = batch.map(
      (entry, i): Job<T> => ({
        item: entry.item,
        resolve: () => {
          outcomes[i] ??= { ok: true };
        },
        reject: (err) => {
          outcomes[i] ??= { ok: false, err };
        },
      }),
    );
    try {
      await options.flush(jobs);
    } catch (err) {
      for (const job of jobs) job.reject(err); // only those the flush left open
    }
    out.delete(batch);
    outItems -= batch.length;
    batch.forEach((entry, i) => {
      const outcome = outcomes[i] ?? {
        ok: false,
        err: new SkjoldError(
          'SKJOLD_ERR_INTERNAL',
          'a batch was handed on without an outcome for every item',
        ),
      };
      if (outcome.ok) entry.settle.resolve();
      else entry.settle.reject(outcome.err);
    });
    // One splice, not a shift per waiter: under a flood thousands wait, and shifting each is quadratic.
    for (const wake of roomWaiters.splice(0, Math.max(0, bufferItems - held()))) wake();
    updateGauges();
    // A partial batch waits `maxWaitMs` again rather than going at once: every batch then carries
    // at least that long's arrivals, which is what keeps Kafka's record batches from shrinking to
    // a round trip's worth under load (docs/kafka.md, Throughput).
    if (queue.length > 0) {
      if (closed) send();
      else schedule();
    }
    if (held() === 0) while (idleWaiters.length > 0) idleWaiters.shift()?.();
  }

  return {
    async push(item) {
      while (!closed && held() >= bufferItems) {
        await new Promise<void>((r) => {
          roomWaiters.push(r);
          updateGauges();
        });
      }
      if (closed) throw new SkjoldError('SKJOLD_ERR_TRANSPORT_CLOSED');
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      queue.push({ item, settle: { resolve, reject }, done: promise.catch(() => {}) });
      schedule();
      return promise;
    },

    async close(deadlineMs) {
      closed = true;
      for (const wake of roomWaiters.splice(0)) wake();
      send();
      if (held() > 0) {
        let deadline: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((r) => idleWaiters.push(r)),
          new Promise<void>((r) => {
            deadline = setTimeout(r, deadlineMs);
          }),
        ]);
        clearTimeout(deadline);
      }
      for (const entry of queue.splice(0))
        entry.settle.reject(new SkjoldError('SKJOLD_ERR_TRANSPORT_CLOSED'));
      updateGauges();
    },

    held,

    async settled() {
      await Promise.all([...queue, ...[...out].flat()].map((e) => e.done));
    },
  };
}
