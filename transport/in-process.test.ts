import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { createInProcessTransport } from './in-process.ts';
import type { StoreWriter } from './store-writer.ts';
import { transportContract } from './transport.contract.ts';

/**
 * The queueing logic against a store writer that takes a while per batch —
 * what a loaded InfluxDB looks like from here. The real store is in the
 * end-to-end tests (test/e2e/store-outage.test.ts); this one drives the
 * queue harder than a test can drive influxd.
 */
function slowWriter(ms: number) {
  const stats = { batches: [] as number[], concurrent: 0, maxConcurrent: 0, points: 0 };
  const writer: StoreWriter = {
    async write(_tenant, points) {
      stats.concurrent++;
      stats.maxConcurrent = Math.max(stats.maxConcurrent, stats.concurrent);
      stats.batches.push(points.length);
      await new Promise((r) => setTimeout(r, ms));
      stats.points += points.length;
      stats.concurrent--;
    },
  };
  return { writer, stats };
}

const point = (i: number): Point => ({
  measurement: 'm',
  tags: { d: 'p' },
  fields: { v: i },
  timestampMs: i,
});

test('a flood far above the batch size is written in full batches, two at a time, and every send settles', async () => {
  const { writer, stats } = slowWriter(5);
  const transport = createInProcessTransport({
    writer,
    metrics: createMetrics({ defaultMetrics: false }),
    batchPoints: 10,
    maxWaitMs: 20,
    bufferPoints: 100_000,
  });
  await Promise.all(Array.from({ length: 5000 }, (_, i) => transport.send(i % 2 ? 'a' : 'b', point(i))));
  assert.equal(stats.points, 5000);
  assert.ok(stats.batches.every((n) => n <= 10));
  assert.equal(stats.maxConcurrent <= 4, true, 'two batches at once, each split at most by tenant');
  assert.equal(transport.buffered(), 0);
  await transport.close();
});

test('senders wait when the buffer is full; the buffer never holds more than its bound', async () => {
  const { writer } = slowWriter(10);
  const metrics = createMetrics({ defaultMetrics: false });
  const transport = createInProcessTransport({
    writer,
    metrics,
    batchPoints: 5,
    maxWaitMs: 5,
    bufferPoints: 20,
  });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, transport.buffered());
  }, 1);
  await Promise.all(
    Array.from({ length: 300 }, async (_, i) => {
      await transport.send('a', point(i));
      peak = Math.max(peak, transport.buffered());
    }),
  );
  clearInterval(sampler);
  assert.ok(peak <= 20, `peak ${peak}`);
  assert.equal(transport.buffered(), 0);
  await transport.close();
});

test('a partial batch is written after maxWaitMs; after close, sends are refused', async () => {
  const { writer, stats } = slowWriter(1);
  const transport = createInProcessTransport({
    writer,
    metrics: createMetrics({ defaultMetrics: false }),
    batchPoints: 1000,
    maxWaitMs: 10,
    bufferPoints: 5000,
  });
  await transport.send('a', point(1));
  assert.deepEqual(stats.batches, [1]);
  await transport.close();
  await assert.rejects(transport.send('a', point(2)), { code: 'SKJOLD_ERR_TRANSPORT_CLOSED' });
});

test('drained() resolves once every point accepted before it was written, queued or in flight', async () => {
  const { writer, stats } = slowWriter(30);
  const transport = createInProcessTransport({
    writer,
    metrics: createMetrics({ defaultMetrics: false }),
    batchPoints: 10,
    maxWaitMs: 5,
    bufferPoints: 1000,
  });
  const sends = Array.from({ length: 95 }, (_, i) => transport.send('t', point(i)));
  await transport.drained();
  assert.equal(stats.points, 95);
  await Promise.all(sends);
  await transport.drained(); // nothing held: resolves at once
  await transport.close();
});

transportContract('in-process', async (writer, bufferPoints) => ({
  transport: createInProcessTransport({
    writer,
    metrics: createMetrics({ defaultMetrics: false }),
    batchPoints: 100,
    maxWaitMs: 5,
    bufferPoints,
  }),
  bufferPoints,
  stop: async () => {},
}));
