import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTokenBucket } from './token-bucket.ts';

test('a bucket gives its burst at once, then tokens at its rate', () => {
  let now = 0;
  const bucket = createTokenBucket(10, 5, () => now);
  for (let i = 0; i < 5; i++) assert.ok(bucket.tryTake());
  assert.equal(bucket.tryTake(), false);
  assert.equal(bucket.waitMs(), 100);
  now += 100;
  assert.ok(bucket.tryTake());
  assert.equal(bucket.tryTake(), false);
  now += 10_000;
  for (let i = 0; i < 5; i++) assert.ok(bucket.tryTake());
  assert.equal(bucket.tryTake(), false, 'never holds more than its burst');
});
