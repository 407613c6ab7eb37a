import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { quantileMs, snapshotHistogram } from './latency.ts';
import { createRing } from './ring.ts';
import { createStepCounter, MAX_DEVICES_PER_STEP } from './step.ts';

test('the ring keeps the newest entries, oldest first, and never more than its capacity', () => {
  const ring = createRing<number>(3);
  assert.deepEqual(ring.toArray(), []);
  for (let i = 1; i <= 7; i++) ring.push(i);
  assert.deepEqual(ring.toArray(), [5, 6, 7]);
  assert.equal(ring.size, 3);
});

test('a step names at most MAX_DEVICES_PER_STEP devices; the rest count under their tenant, by reason', () => {
  const step = createStepCounter();
  const device = (i: number) => ({
    tenantId: 'varme',
    deviceId: `id-${i}`,
    kind: 'heat_meter' as const,
    devicePseudonym: `v1.p${i}`,
  });
  for (let i = 0; i < MAX_DEVICES_PER_STEP + 50; i++) step.rejected(device(i), 'schema');
  step.rejected(device(0), 'schema');
  const closed = step.close(1);
  const named = closed.devices.filter((d) => d.device !== null);
  assert.equal(named.length, MAX_DEVICES_PER_STEP);
  assert.equal(named.find((d) => d.device === 'v1.p0')?.count, 2);
  assert.deepEqual(
    closed.devices.filter((d) => d.device === null),
    [{ tenantId: 'varme', deviceId: null, device: null, reason: 'schema', count: 50 }],
  );
  assert.equal(closed.tenants.get('varme')?.rejected.get('schema'), MAX_DEVICES_PER_STEP + 51);
  assert.equal(step.close(2).devices.length, 0, 'the next step starts empty');
});

test('write latency quantiles interpolate within the histogram bucket, over the window only', async () => {
  const h = new Histogram({ name: 'w', help: 'w', buckets: [0.01, 0.1, 1], registers: [new Registry()] });
  for (let i = 0; i < 10; i++) h.observe(5); // before the window: +Inf bucket
  const from = await snapshotHistogram(h);
  for (let i = 0; i < 50; i++) h.observe(0.005);
  for (let i = 0; i < 50; i++) h.observe(0.05);
  const to = await snapshotHistogram(h);
  assert.equal(quantileMs(from, to, 0.5), 10); // the 50th of 100 is the top of the first bucket
  assert.equal(quantileMs(from, to, 0.99), 98.2); // 49 of 50 into (10 ms, 100 ms]
  assert.equal(quantileMs(to, to, 0.5), null, 'nothing observed: no latency');
  assert.equal(quantileMs(undefined, to, 0.99), 1000, 'past the last finite bucket: its bound');
});
