import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSourceLimit, sourceOf } from './source-limit.ts';

function limitAt(overrides: Partial<Parameters<typeof createSourceLimit>[0]> = {}) {
  const clock = { t: 1_000_000 };
  const limit = createSourceLimit({
    connectRate: 0,
    maxFailures: 3,
    failureWindowMs: 60_000,
    maxSources: 100,
    now: () => clock.t,
    ...overrides,
  });
  return { limit, clock };
}

test('a source is refused after maxFailures failed logins in the window, until the window has passed', () => {
  const { limit, clock } = limitAt();
  assert.equal(limit.failed('10.0.0.1'), false);
  assert.equal(limit.failed('10.0.0.1'), false);
  assert.equal(limit.admit('10.0.0.1'), 'ok');
  assert.equal(limit.failed('10.0.0.1'), true, 'the third failure blocks');
  assert.equal(limit.admit('10.0.0.1'), 'blocked');
  assert.equal(limit.blocked('10.0.0.1'), true);
  assert.equal(limit.admit('10.0.0.2'), 'ok', 'another source is not affected');
  clock.t += 59_999;
  assert.equal(limit.admit('10.0.0.1'), 'blocked');
  clock.t += 1;
  assert.equal(limit.admit('10.0.0.1'), 'ok');
  assert.equal(limit.failed('10.0.0.1'), false, 'the count started over');
});

test('failures spread wider than the window never block', () => {
  const { limit, clock } = limitAt();
  for (let i = 0; i < 10; i++) {
    assert.equal(limit.failed('10.0.0.1'), false, `failure ${i + 1}`);
    clock.t += 31_000;
  }
  assert.equal(limit.admit('10.0.0.1'), 'ok');
});

test('connection attempts per source: a burst of 2× the rate, then the rate', () => {
  const { limit, clock } = limitAt({ connectRate: 5 });
  const burst = Array.from({ length: 12 }, () => limit.admit('10.0.0.1'));
  assert.deepEqual(burst, [...Array(10).fill('ok'), 'rate', 'rate']);
  assert.equal(limit.admit('10.0.0.2'), 'ok');
  clock.t += 200; // one token at 5/s
  assert.equal(limit.admit('10.0.0.1'), 'ok');
  assert.equal(limit.admit('10.0.0.1'), 'rate');
});

test('the table keeps at most maxSources, forgetting the least recently seen', () => {
  const { limit } = limitAt({ maxSources: 3 });
  for (const s of ['a', 'b', 'c']) limit.failed(s);
  limit.failed('a');
  limit.failed('a'); // a blocked, and most recently seen
  limit.admit('d'); // evicts b
  assert.equal(limit.size(), 3);
  assert.equal(limit.blocked('a'), true);
  for (let i = 0; i < 1000; i++) limit.admit(`flood-${i}`);
  assert.equal(limit.size(), 3, 'bounded however many sources come');
});

test('with both limits off nothing is tracked', () => {
  const { limit } = limitAt({ maxFailures: 0 });
  for (let i = 0; i < 10; i++) assert.equal(limit.failed('x'), false);
  assert.equal(limit.admit('x'), 'ok');
  assert.equal(limit.size(), 0);
});

test('sources: IPv4 as is (also IPv4-mapped), IPv6 by /64', () => {
  assert.equal(sourceOf('127.0.0.2'), '127.0.0.2');
  assert.equal(sourceOf('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(sourceOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(sourceOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(sourceOf('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(sourceOf('::1'), '0:0:0:0::/64');
  assert.equal(sourceOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(sourceOf(undefined), 'unknown');
});
