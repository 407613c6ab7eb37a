import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { createKeyPlacer } from './kafka-partitioner.ts';

const metadata = (n: number, down: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: down.includes(partitionId) ? -1 : 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

test('every key lands on the partition kafkajs (and the Java client) would choose, also after the partition count changes', () => {
  const place = createKeyPlacer();
  const plain = Partitioners.DefaultPartitioner();
  const keys = Array.from({ length: 2000 }, (_, i) => `v1.${(i * 2654435761).toString(36)}`);
  for (const n of [12, 12, 8, 1, 30]) {
    const partitionMetadata = metadata(n, n > 2 ? [1] : []); // a leaderless partition changes no keyed choice
    const seen = new Set<number>();
    for (const key of [...keys, ...keys]) {
      const p = place(key, n);
      assert.equal(
        p,
        plain({ topic: 't', partitionMetadata, message: { key, value: 'x' } }),
        `${key} of ${n}`,
      );
      seen.add(p);
    }
    assert.equal(seen.size, n, `keys spread over all ${n} partitions`);
  }
});
