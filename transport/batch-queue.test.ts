import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../lib/metrics.ts';
import { type BatchQueueOptions, createBatchQueue, type Job } from './batch-queue.ts';

/**
 * The queue both transports are built on; each transport is also held to
 * transport/transport.contract.ts. These cover what the contract does not:
 * the wait before a batch, refusing what close could not flush, and a flush's
 * outcome reaching exactly the senders it belongs to.
 */
const gauges = () => createMetrics({ defaultMetrics: false });

function options(flush: (batch: Job<number>[]) => Promise<void>): BatchQueueOptions<number> {
  return { flush, batchSize: 10, maxWaitMs: 60_000, bufferItems: 1000, concurrency: 1, gauges: gauges() };
}

test('after a batch settles, a partial batch waits maxWaitMs again: each carries at least that long of arrivals', async () => {
  const sent: Array<{ items: number[]; at: number }> = [];
  const settledAt: number[] = [];
  const queue = createBatchQueue<number>({
    ...options(async (batch) => {
      sent.push({ items: batch.map((j) => j.item), at: performance.now() });
      await new Promise((r) => setTimeout(r, 20));
      settledAt.push(performance.now());
      for (const j of batch) j.resolve();
    }),
    maxWaitMs: 40,
  });
  const first = queue.push(0);
  await new Promise((r) => setTimeout(r, 50)); // the first batch is out
  const during = [1, 2, 3].map((i) => queue.push(i)); // arrive while it is out
  await first;
  const after = queue.push(4); // arrives once it settled, within the next wait
  await Promise.all([...during, after]);
  assert.deepEqual(
    sent.map((b) => b.items),
    [[0], [1, 2, 3, 4]],
  );
  const waited = (sent[1]?.at ?? 0) - (settledAt[0] ?? 0);
  assert.ok(waited >= 38, `the second batch went ${waited.toFixed(1)} ms after the first settled`);
  await queue.close(0);
});

test('close flushes what is queued, and past its deadline refuses what could not go; the batch out still settles', async () => {
  const { promise: stuck, resolve: unstick } = Promise.withResolvers<void>();
  const queue = createBatchQueue<number>(
    options(async (batch) => {
      await stuck;
      for (const j of batch) j.resolve();
    }),
  );
  const out = Array.from({ length: 10 }, (_, i) => queue.push(i));
  const queued = Array.from({ length: 5 }, (_, i) => queue.push(10 + i));
  await queue.close(20);
  for (const q of queued) await assert.rejects(q, { code: 'SKJOLD_ERR_TRANSPORT_CLOSED' });
  await assert.rejects(queue.push(99), { code: 'SKJOLD_ERR_TRANSPORT_CLOSED' });
  unstick();
  await Promise.all(out);
  assert.equal(queue.held(), 0);
});

test("a flush's outcome reaches exactly its senders: a throw rejects the items it left open, none is left hanging", async () => {
  const queue = createBatchQueue<number>({
    ...options(async (batch) => {
      for (const j of batch) if (j.item % 3 === 0) j.resolve();
      for (const j of batch) if (j.item % 3 === 1) j.reject(new Error(`refused ${j.item}`));
      if (batch.some((j) => j.item === 5)) throw new Error('flush failed');
      // items ≡ 2 (mod 3) of a batch without 5 are left unsettled by this flush
    }),
    maxWaitMs: 1,
  });
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => queue.push(i)));
  results.forEach((r, i) => {
    if (i % 3 === 0) assert.equal(r.status, 'fulfilled', `item ${i}`);
    else if (i % 3 === 1)
      assert.match(String((r as PromiseRejectedResult).reason), new RegExp(`refused ${i}$`));
    else if (i < 10) assert.match(String((r as PromiseRejectedResult).reason), /flush failed/);
    else assert.equal((r as PromiseRejectedResult).reason.code, 'SKJOLD_ERR_INTERNAL', `item ${i}`);
  });
  await queue.close(0);
});
