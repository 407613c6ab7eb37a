import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { manualClock } from '../lib/clock.ts';
import { createLogger } from '../lib/log.ts';
import { createRejectionLog, REJECTION_DEFAULTS, type RejectionLogOptions } from './rejection-log.ts';

const T0 = '2026-12-01T12:00:00.000Z';
const MINUTE = 60_000;
const { fullLinesPerInterval: FULL, summaryLinesPerInterval: SUMMARIES } = REJECTION_DEFAULTS;

interface Line {
  msg: string;
  level: number;
  time: number;
  device?: string;
  reason?: string;
  rejected?: number;
  seconds?: number;
  since?: string;
  devices?: number;
  reasons?: Record<string, number>;
}

/** A rejection log writing through a real pino logger into memory, on a clock the test moves. */
function setup(options: Partial<RejectionLogOptions> = {}) {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const clock = manualClock(T0);
  const log = createRejectionLog({ logger: createLogger('info', sink), clock, ...options });
  const advance = (ms: number) => clock.set(new Date(clock().getTime() + ms));
  const reject = (device: string, reason = 'json', times = 1) => {
    for (let i = 0; i < times; i++)
      log.rejected({ device, tenant: 'acme', reason, msg: 'message rejected', fields: { detail: 'd' } });
  };
  return { lines, log, advance, reject };
}

const fulls = (lines: Line[]) => lines.filter((l) => l.msg === 'message rejected');
const summaries = (lines: Line[]) => lines.filter((l) => l.rejected !== undefined);
/** Every rejection is in exactly one line: a full line counts one, a summary its `rejected`. */
const accounted = (lines: Line[]) =>
  fulls(lines).length + summaries(lines).reduce((sum, l) => sum + (l.rejected ?? 0), 0);

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
  assert.equal(fulls(lines).length, 1);
  assert.equal(lines[0]?.level, 40, 'the first rejection is a warning');
  assert.equal(summaries(lines).length, 5, 'one summary a minute');
  assert.equal(accounted(lines), 5000);
  assert.deepEqual(
    summaries(lines).map((l) => l.msg),
    [
      'device v1.flood: 999 more messages rejected (json) in the last 60 s',
      ...Array(4).fill('device v1.flood: 1000 more messages rejected (json) in the last 60 s'),
    ],
  );
});

test('each reason of a device is logged once in full; a pair quiet long enough is logged in full again', () => {
  const { lines, log, advance, reject } = setup();
  reject('v1.a', 'json', 3);
  reject('v1.a', 'schema', 2);
  reject('v1.b', 'json');
  assert.deepEqual(
    fulls(lines).map((l) => `${l.device} ${l.reason}`),
    ['v1.a json', 'v1.a schema', 'v1.b json'],
  );
  advance(MINUTE);
  log.flush();
  // A device that kept at it gets a line of its own; a single repeat only a count on the shared line.
  assert.deepEqual(
    summaries(lines).map((l) => l.msg),
    [
      'device v1.a: 2 more messages rejected (json) in the last 60 s',
      '1 more message rejected (schema 1) from 1 other device in the last 60 s',
    ],
  );
  advance(REJECTION_DEFAULTS.forgetAfterMs - MINUTE - 1);
  reject('v1.a');
  assert.equal(fulls(lines).length, 3, 'remembered while it was quiet for less than forgetAfterMs');
  advance(REJECTION_DEFAULTS.forgetAfterMs);
  log.flush();
  assert.equal(log.tracked(), 0, 'forgotten once quiet for forgetAfterMs');
  reject('v1.a');
  assert.equal(fulls(lines).length, 4, 'then its next rejection is logged in full');
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

test('a fleet of 200 devices each sending a bad message a minute: a bounded number of lines a minute', () => {
  const { lines, log, advance, reject } = setup();
  const perMinute: number[] = [];
  for (let minute = 0; minute < 10; minute++) {
    const from = lines.length;
    for (let d = 0; d < 200; d++) {
      reject(`v1.d${d}`, d % 2 ? 'json' : 'schema');
      advance(MINUTE / 200);
    }
    log.flush();
    perMinute.push(lines.length - from);
  }
  log.close();
  for (const n of perMinute) assert.ok(n <= FULL + SUMMARIES + 1, `${perMinute}`);
  assert.equal(fulls(lines).length, FULL * 10, 'a few in full each minute, until every pair has had one');
  assert.equal(accounted(lines), 2000);
  const rest = summaries(lines).filter((l) => l.device === undefined);
  assert.ok(rest.length > 0);
  assert.match(
    rest[0]?.msg ?? '',
    /^\d+ more messages rejected \(json \d+, schema \d+\) from \d+ other devices in the last 60 s$/,
  );
});

test('memory is bounded: past maxTracked pairs the least recently active is dropped, its count kept', () => {
  const { lines, log, advance, reject } = setup({ maxTracked: 3, fullLinesPerInterval: 100 });
  for (let d = 0; d < 10; d++) reject(`v1.d${d}`, 'schema', 4);
  assert.equal(log.tracked(), 3);
  advance(MINUTE);
  log.flush();
  assert.equal(accounted(lines), 40);
  const rest = summaries(lines).find((l) => l.device === undefined);
  assert.equal(rest?.devices, 7, 'the dropped pairs are summarised together');
  assert.deepEqual(rest?.reasons, { schema: 21 });
});

test('property: every rejection is in exactly one line, a pair is summarised at most once an interval, lines per interval are bounded', () => {
  const event = fc.record({
    device: fc.constantFrom('v1.a', 'v1.b', 'v1.c', 'v1.d', 'v1.e', 'v1.f'),
    reason: fc.constantFrom('json', 'schema', 'not_object'),
    gapMs: fc.nat({ max: 2 * MINUTE }),
    flush: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.array(event, { maxLength: 300 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 4 }),
      (events, maxTracked, fullLinesPerInterval) => {
        const { lines, log, advance, reject } = setup({ maxTracked, fullLinesPerInterval });
        for (const e of events) {
          advance(e.gapMs);
          reject(e.device, e.reason);
          if (e.flush) log.flush();
        }
        log.close();
        assert.equal(accounted(lines), events.length);
        assert.ok(log.tracked() === 0, 'close forgets everything');
        // Summary lines name the interval they close; no pair twice in one, at most a few pairs on lines of their own.
        const intervals = Map.groupBy(summaries(lines), (l) => l.since);
        for (const [since, block] of intervals) {
          const own = block.filter((l) => l.device !== undefined).map((l) => `${l.device} ${l.reason}`);
          assert.equal(
            new Set(own).size,
            own.length,
            `a pair summarised twice in the interval from ${since}`,
          );
          assert.ok(own.length <= SUMMARIES);
          assert.ok(block.length - own.length <= 1, 'one shared line');
        }
        const elapsed = events.reduce((sum, e) => sum + e.gapMs, 0);
        assert.ok(fulls(lines).length <= fullLinesPerInterval * (Math.floor(elapsed / MINUTE) + 1));
      },
    ),
  );
});
