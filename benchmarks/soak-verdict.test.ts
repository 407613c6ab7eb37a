import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseRate, type IntervalFigures, rssSlope, slope, soakVerdict } from './soak-verdict.ts';

/** One interval a minute: RSS and p99 as given. */
const minutes = (rss: number[], p99: number[]): IntervalFigures[] =>
  rss.map((r, k) => ({ endMin: k + 1, rssMiB: r, p99Ms: p99[k] ?? Number.NaN }));

test('slope is the least-squares fit, and undefined with fewer than two distinct points', () => {
  assert.equal(
    slope([
      { x: 1, y: 3 },
      { x: 2, y: 5 },
      { x: 3, y: 7 },
    ]),
    2,
  );
  // Noise around a flat line: the fit, not the first-to-last difference.
  assert.equal(
    slope([
      { x: 0, y: 10 },
      { x: 1, y: 12 },
      { x: 2, y: 8 },
      { x: 3, y: 10 },
    ]),
    -0.4,
  );
  assert.equal(slope([{ x: 1, y: 3 }]), null);
  assert.equal(
    slope([
      { x: 1, y: 3 },
      { x: 1, y: 9 },
    ]),
    null,
  );
});

test('the RSS slope leaves out the warm-up, or as much of it as still leaves two intervals', () => {
  // Growth in the first three minutes (warm-up), flat after.
  const flat = rssSlope(minutes([100, 150, 190, 200, 200, 200, 200], []), 3);
  assert.deepEqual(flat, { miBPerMin: 0, warmupMin: 3, intervalsUsed: 4 });
  const short = rssSlope(minutes([100, 130], []), 3);
  assert.deepEqual(short, { miBPerMin: 30, warmupMin: 0, intervalsUsed: 2 });
  assert.deepEqual(rssSlope(minutes([100], []), 3), { miBPerMin: null, warmupMin: 0, intervalsUsed: 0 });
});

test('a soak passes with zero loss, RSS under 1 MiB/min after warm-up and a flat p99 under a second', () => {
  const v = soakVerdict(
    minutes(
      [100, 150, 200, 200.5, 201, 201.5, 202, 202.5, 203],
      [300, 320, 310, 330, 305, 315, 340, 320, 330],
    ),
    0,
    3,
  );
  assert.equal(v.pass, true, v.failures.join('; '));
  assert.equal(v.rss.miBPerMin, 0.5);
  assert.equal(v.p99.thirdOf, 3);
  assert.equal(v.p99.firstThirdMedianMs, 310);
  assert.equal(v.p99.lastThirdMedianMs, 330);
});

test('each criterion fails the soak on its own', () => {
  const steady = [300, 300, 300, 300, 300, 300];
  const rss = [200, 200, 200, 200, 200, 200];
  assert.match(soakVerdict(minutes(rss, steady), 1, 3).failures.join(), /1 acknowledged messages not stored/);
  const leak = soakVerdict(minutes([200, 202, 204, 206, 208, 210], steady), 0, 3);
  assert.deepEqual(leak.failures, ['RSS slope 2 MiB/min ≥ 1']);
  // 300 → 400 ms: more than both 1.25× and + 50 ms.
  const drift = soakVerdict(minutes(rss, [300, 300, 350, 350, 400, 400]), 0, 3);
  assert.equal(drift.failures.length, 1);
  assert.match(drift.failures[0] ?? '', /p99 not flat/);
  // 40 → 85 ms is more than 1.25×, but within the probe's resolution: flat.
  assert.equal(soakVerdict(minutes(rss, [40, 40, 60, 60, 85, 85]), 0, 3).pass, true);
  const spike = soakVerdict(minutes(rss, [300, 1200, 300, 300, 300, 300]), 0, 3);
  assert.deepEqual(spike.failures, ["an interval's p99 1200 ms ≥ 1000 ms"]);
  const unseen = soakVerdict(minutes(rss, [300, Number.NaN, 300, 300, 300, 300]), 0, 3);
  assert.match(unseen.failures.join(), /\(none seen\)/);
  assert.match(soakVerdict(minutes([200], [300]), 0, 3).failures.join(), /RSS slope not measured/);
});

test('the rate: --rate as given, else 70 % of --capacity, else 70 % of the last run’s capacity, else an error', () => {
  const latest = { file: 'benchmarks/results/latest.json', achievedRate: 20_000 };
  assert.deepEqual(chooseRate({ rate: 8_000, capacity: 30_000, latest }), { rate: 8_000, source: '--rate' });
  assert.equal(chooseRate({ rate: undefined, capacity: 30_000, latest }).rate, 21_000);
  const fromFile = chooseRate({ rate: undefined, capacity: undefined, latest });
  assert.equal(fromFile.rate, 14_000);
  assert.match(fromFile.source, /results\/latest\.json/);
  assert.throws(
    () => chooseRate({ rate: undefined, capacity: undefined, latest: undefined }),
    /--rate or --capacity/,
  );
  assert.throws(
    () =>
      chooseRate({
        rate: undefined,
        capacity: undefined,
        latest: { file: 'x.json', achievedRate: undefined },
      }),
    /x\.json has no passing end-to-end step/,
  );
});
