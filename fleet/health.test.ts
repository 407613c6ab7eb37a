/**
 * The store's state on the fleet board: an "up" answer is reused for a while,
 * a "down" one is asked again at the next look, and looks made while a ping
 * is out share it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { manualClock } from '../lib/clock.ts';
import { createLogger } from '../lib/log.ts';
import { createMetrics } from '../lib/metrics.ts';
import type { SqlClient } from '../registry/sql.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { createFleetHealth } from './health.ts';

const OPERATOR = { tenantId: null, operator: true };

let sql: SqlClient;
before(async () => {
  sql = await freshPglite();
});
after(() => sql?.close());

/** A store whose pings answer from `answers` in turn, each after `delayMs`; it counts them. */
function scriptedStore(answers: boolean[], delayMs = 0) {
  const store = {
    pings: 0,
    async ping() {
      const up = answers[store.pings++] ?? true;
      await new Promise((r) => setTimeout(r, delayMs));
      return up;
    },
  };
  return store;
}

function board(store: { ping(): Promise<boolean> }) {
  const clock = manualClock('2026-11-02T08:00:00.000Z');
  const fleet = createFleetHealth({
    sql,
    clock,
    metrics: createMetrics(),
    store,
    logger: createLogger('silent'),
    spool: false,
  });
  return { clock, up: async () => (await fleet.report(OPERATOR)).store.up };
}

test('a store that did not answer once is asked again at the next look, not shown down for ten seconds', async () => {
  const store = scriptedStore([false, true]);
  const { up } = board(store);
  assert.equal(await up(), false);
  assert.equal(await up(), true, 'the clock has not moved: the down answer was not reused');
  assert.equal(store.pings, 2);
});

test('an up answer holds for ten seconds, then the store is asked again', async () => {
  const store = scriptedStore([true, false]);
  const { clock, up } = board(store);
  assert.equal(await up(), true);
  clock.set('2026-11-02T08:00:09.000Z');
  assert.equal(await up(), true);
  assert.equal(store.pings, 1, 'within ten seconds the answer is reused');
  clock.set('2026-11-02T08:00:10.000Z');
  assert.equal(await up(), false);
  assert.equal(store.pings, 2);
});

test('looks made while a ping is out share it', async () => {
  const store = scriptedStore([false], 50);
  const { up } = board(store);
  assert.deepEqual(await Promise.all([up(), up(), up()]), [false, false, false]);
  assert.equal(store.pings, 1);
});
