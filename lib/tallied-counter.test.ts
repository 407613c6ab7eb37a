import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { talliedCounter } from './tallied-counter.ts';

function setup() {
  const registry = new Registry();
  const counter = talliedCounter({
    name: 'test_messages_total',
    help: 'test',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const value = async (labels: Record<'kind' | 'outcome', string>) =>
    (await counter.get()).values.find((v) =>
      (Object.keys(labels) as Array<keyof typeof labels>).every((k) => v.labels[k] === labels[k]),
    )?.value;
  return { registry, counter, value };
}

test('a tally counts into its counter, seen by every read, never twice', async () => {
  const { registry, counter, value } = setup();
  const stored = counter.tally({ kind: 'a', outcome: 'stored' });
  for (let i = 0; i < 1_000; i++) stored.inc();
  stored.inc(5);
  assert.equal(await value({ kind: 'a', outcome: 'stored' }), 1_005);
  // Read again: nothing added twice.
  assert.match(await registry.metrics(), /^test_messages_total\{kind="a",outcome="stored"\} 1005$/m);
  stored.inc();
  assert.match(await registry.metrics(), /^test_messages_total\{kind="a",outcome="stored"\} 1006$/m);
  assert.equal(await value({ kind: 'a', outcome: 'stored' }), 1_006);
});

test('the same labels give one count, in either key order; inc with labels adds to it', async () => {
  const { counter, value } = setup();
  counter.tally({ kind: 'a', outcome: 'stored' }).inc(2);
  counter.tally({ outcome: 'stored', kind: 'a' }).inc(3);
  counter.inc({ kind: 'a', outcome: 'stored' }, 4);
  counter.tally({ kind: 'b', outcome: 'stored' }).inc();
  assert.equal(await value({ kind: 'a', outcome: 'stored' }), 9);
  assert.equal(await value({ kind: 'b', outcome: 'stored' }), 1);
});
