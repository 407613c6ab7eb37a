import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manualClock } from '../lib/clock.ts';
import { createLogger } from '../lib/log.ts';
import { createRetentionSchedule, nextRunAt, type Timers } from './schedule.ts';

test('the next run is the next occurrence of the hour, in UTC', () => {
  assert.equal(nextRunAt(new Date('2026-03-01T01:59:00Z'), 2).toISOString(), '2026-03-01T02:00:00.000Z');
  assert.equal(nextRunAt(new Date('2026-03-01T02:00:00Z'), 2).toISOString(), '2026-03-02T02:00:00.000Z');
  assert.equal(nextRunAt(new Date('2026-12-31T23:00:00Z'), 0).toISOString(), '2027-01-01T00:00:00.000Z');
});

test('the schedule runs daily, retries a failed run an hour later, and stops', async () => {
  const clock = manualClock('2026-03-01T10:00:00Z');
  const pending: Array<{ fn: () => void; ms: number; cleared: boolean }> = [];
  const timers: Timers = {
    set(fn, ms) {
      const t = { fn, ms, cleared: false };
      pending.push(t);
      return t;
    },
    clear(h) {
      if (h) (h as { cleared: boolean }).cleared = true;
    },
  };
  let runs = 0;
  let fail = false;
  const schedule = createRetentionSchedule({
    hourUtc: 3,
    clock,
    timers,
    logger: createLogger('silent'),
    run: async () => {
      runs++;
      if (fail) throw new Error('store down');
    },
  });
  const fire = async () => {
    const t = pending.at(-1);
    assert.ok(t);
    clock.set(new Date(clock().getTime() + t.ms));
    t.fn();
    await new Promise((r) => setImmediate(r));
  };

  schedule.start();
  assert.equal(pending.at(-1)?.ms, 17 * 3_600_000);
  await fire();
  assert.equal(runs, 1);
  assert.equal(clock().toISOString(), '2026-03-02T03:00:00.000Z');
  assert.equal(pending.at(-1)?.ms, 24 * 3_600_000);

  fail = true;
  await fire();
  assert.equal(runs, 2);
  assert.equal(pending.at(-1)?.ms, 3_600_000, 'a failed run is retried after an hour');
  fail = false;
  await fire();
  assert.equal(runs, 3);
  assert.equal(pending.at(-1)?.ms, 23 * 3_600_000);

  await schedule.stop();
  assert.equal(pending.at(-1)?.cleared, true);
});
