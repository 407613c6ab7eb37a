import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { manualClock } from '../lib/clock.ts';
import { createLogger } from '../lib/log.ts';
import { createRejectionLog } from './rejection-log.ts';

const T0 = '2026-12-01T12:00:00.000Z';
const MINUTE = 60_000;

interface Line {
  msg: string;
  level: number;
  device?: string;
  reason?: string;
  rejected?: number;
  seconds?: number;
}

/** A rejection log writing through a real pino logger into memory, on a clock the test moves. */
function setup(options: { maxTracked?: number } = {}) {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const clock = manualClock(T0);
  const log = createRejectionLog({
    logger: createLogger('info', sink),
    clock,
    intervalMs: MINUTE,
    ...options,
  });
  const advance = (ms: number) => clock.set(new Date(clock().getTime() + ms));
  const reject = (device: string, reason = 'json', times = 1) => {
    for (let i = 0; i < times; i++)
      log.rejected({ device, tenant: 'acme', reason, msg: 'message rejected', fields: { detail: 'd' } });
  };
  return { lines, log, advance, reject };
}

const firsts = (lines: Line[]) => lines.filter((l) => l.msg === 'message rejected');
const summaries = (lines: Line[]) => lines.filter((l) => l.rejected !== undefined);

test('a device sending 1,000 bad messages a minute gets one warning, then one summary a minute', () => {
  const { lines, log, advance, reject } = setup();
  for (let minute = 0; minute < 5; minute++) {
    for (let i = 0; i < 1000; i++) {
      reject('v1.flood');
      advance(MINUTE / 1000);
    }
    log.flush();
  }
  log.close();
  assert.equal(firsts(lines).length, 1);
  assert.equal(lines[0]?.level, 40, 'the first rejection is a warning');
  assert.ok(lines.length <= 1 + 5 + 1, `${lines.length} lines for 5,000 rejections`);
  const counted = summaries(lines).reduce((sum, l) => sum + (l.rejected ?? 0), 0);
  assert.equal(1 + counted, 5000, 'every rejection is in the first line or a summary');
  const summary = summaries(lines)[0];
  assert.equal(
    summary?.msg,
    `device v1.flood: ${summary?.rejected} more messages rejected (json) in the last 60 s`,
  );
});

test('each reason of a device is logged once in full; a device quiet for an interval is logged in full again', () => {
  const { lines, log, advance, reject } = setup();
  reject('v1.a', 'json', 3);
  reject('v1.a', 'schema', 2);
  reject('v1.b', 'json');
  assert.deepEqual(
    firsts(lines).map((l) => `${l.device} ${l.reason}`),
    ['v1.a json', 'v1.a schema', 'v1.b json'],
  );
  advance(MINUTE);
  log.flush();
  assert.deepEqual(
    summaries(lines).map((l) => `${l.device} ${l.reason} ${l.rejected}`),
    ['v1.a json 2', 'v1.a schema 1'],
  );
  assert.equal(log.tracked(), 2, 'v1.b sent nothing more and is forgotten');
  advance(MINUTE);
  log.flush();
  assert.equal(log.tracked(), 0, 'quiet for a whole interval: forgotten');
  reject('v1.a');
  assert.equal(firsts(lines).length, 4, 'after a quiet interval the next rejection is logged in full');
});

test('a rejection after the interval brings the summary out without waiting for the timer', () => {
  const { lines, advance, reject } = setup();
  reject('v1.a', 'json', 10);
  advance(MINUTE + 5_000);
  reject('v1.a');
  assert.deepEqual(
    summaries(lines).map((l) => [l.rejected, l.seconds]),
    [[9, 65]],
  );
});

test('memory is bounded: past maxTracked devices, rejections are summed per reason', () => {
  const { lines, log, advance, reject } = setup({ maxTracked: 3 });
  for (let d = 0; d < 10; d++) reject(`v1.d${d}`, 'schema', 4);
  assert.equal(log.tracked(), 3);
  assert.equal(firsts(lines).length, 3);
  advance(MINUTE);
  log.flush();
  const beyond = summaries(lines).filter((l) => l.device === undefined);
  assert.equal(beyond.length, 1);
  assert.equal(beyond[0]?.rejected, 7 * 4);
  assert.match(
    beyond[0]?.msg ?? '',
    /28 more messages rejected \(schema\) in the last 60 s from devices beyond the 3 followed/,
  );
});

test('property: every rejection is counted exactly once, and a pair gets at most one line per interval plus its first', () => {
  const event = fc.record({
    device: fc.constantFrom('v1.a', 'v1.b', 'v1.c', 'v1.d'),
    reason: fc.constantFrom('json', 'schema'),
    gapMs: fc.nat({ max: 3 * MINUTE }),
    flush: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(event, { maxLength: 300 }), fc.integer({ min: 1, max: 5 }), (events, maxTracked) => {
      const { lines, log, advance, reject } = setup({ maxTracked });
      let elapsed = 0;
      for (const e of events) {
        advance(e.gapMs);
        elapsed += e.gapMs;
        reject(e.device, e.reason);
        if (e.flush) log.flush();
      }
      log.close();
      const counted = firsts(lines).length + summaries(lines).reduce((s, l) => s + (l.rejected ?? 0), 0);
      assert.equal(counted, events.length);
      const perPair = new Map<string, number>();
      for (const l of lines) {
        const key = `${l.device} ${l.reason}`;
        perPair.set(key, (perPair.get(key) ?? 0) + 1);
      }
      // Each first line opens a window; each later line closes one of at least an interval, or is the last.
      const bound = 2 * (Math.floor(elapsed / MINUTE) + 1) + 1;
      for (const [key, n] of perPair) assert.ok(n <= bound, `${key}: ${n} lines over ${elapsed} ms`);
      assert.equal(log.tracked(), 0, 'close forgets everything');
    }),
  );
});
