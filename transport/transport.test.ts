import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import { drainedWithin } from './transport.ts';

test('drainedWithin waits for drained(), and past its deadline fails with a clear error instead of hanging', async () => {
  let drained = false;
  await drainedWithin(
    {
      drained: async () => {
        await new Promise((r) => setTimeout(r, 20));
        drained = true;
      },
    },
    1000,
  );
  assert.equal(drained, true);
  await drainedWithin(undefined, 10);

  const stuck = { drained: () => new Promise<void>(() => {}) };
  await assert.rejects(drainedWithin(stuck, 30), (err: unknown) => {
    assert.ok(isSkjoldError(err, 'SKJOLD_ERR_STORE_UNAVAILABLE'));
    assert.match((err as Error).message, /nothing was deleted/);
    return true;
  });
});
