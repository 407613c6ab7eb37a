import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, hash01, wander } from './random.ts';

test('the same seed gives the same stream; another seed another', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const xs = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 100 }, () => b.next()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 100 }, () => c.next()),
  );
  assert.equal(createRng('fleet').hex(32), createRng('fleet').hex(32));
});

test('helpers stay in their ranges', () => {
  const rng = createRng(7);
  for (let i = 0; i < 10_000; i++) {
    const x = rng.next();
    assert.ok(x >= 0 && x < 1);
    const n = rng.int(-3, 3);
    assert.ok(Number.isInteger(n) && n >= -3 && n <= 3);
  }
  assert.match(rng.hex(32), /^[0-9a-f]{32}$/);
  assert.match(rng.digits(12), /^\d{12}$/);
  assert.throws(() => rng.pick([]), RangeError);
});

test('int covers both ends', () => {
  const rng = createRng(1);
  const seen = new Set(Array.from({ length: 1000 }, () => rng.int(0, 3)));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
});

test('hash01 and wander are pure and bounded', () => {
  assert.equal(hash01(5, 10, 2), hash01(5, 10, 2));
  assert.notEqual(hash01(5, 10, 2), hash01(5, 11, 2));
  for (let x = 0; x < 200; x += 0.37) {
    const w = wander(99, x);
    assert.ok(w >= -1 && w <= 1);
    assert.equal(w, wander(99, x));
  }
});
