import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sampleLatencies } from './latency-probe.ts';
import { startTimeline } from './soak-timeline.ts';

test('the timeline puts each sampled message in the second it was sent, beside the CPU and the compactions then', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skjold-timeline-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // influxd's /debug/vars, with one shard running a level-2 compaction.
  const vars = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        'tsm1_engine:/data/1': {
          name: 'tsm1_engine',
          values: { tsmLevel2CompactionsActive: 1, tsmLevel2Compactions: 4, cacheCompactionsActive: 0 },
        },
      }),
    );
  });
  await new Promise<void>((resolve) => vars.listen(0, '127.0.0.1', resolve));
  t.after(() => vars.close());
  const url = `http://127.0.0.1:${(vars.address() as AddressInfo).port}`;

  const file = join(dir, 'timeline.tsv');
  const timeline = startTimeline(file, { runner: process.pid }, { url, user: 'u', password: 'p' });
  const second = Math.floor(Date.now() / 1000) * 1000;
  // Sent in one second: 100 messages visible after 1..100 ms; one never seen. Another second: one message.
  // Percentiles are nearest-rank, as in the soak's intervals (stats.ts).
  const sent = new Map<number, number>();
  const seenTimes = new Map<number, number>();
  for (let seq = 1; seq <= 100; seq++) {
    sent.set(seq, second + 10);
    seenTimes.set(seq, second + 10 + seq);
  }
  sent.set(101, second + 20);
  sent.set(200, second + 1_500);
  seenTimes.set(200, second + 1_500 + 700);
  const sample = sampleLatencies({ dev: sent }, new Map([['dev', seenTimes]]), {});
  timeline.addLatencies(sample.sentAt, sample.latencies);
  await new Promise((r) => setTimeout(r, 2_300)); // two samples of CPU and /debug/vars
  timeline.finish();

  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(header, 'time\tsampled\tp50\tp99\tmax\tbusy\trunner\tcompacting');
  const byTime = new Map(rows.map((r) => [r.split('\t')[0], r.split('\t')]));
  const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  assert.deepEqual(byTime.get(hhmmss(second))?.slice(1, 5), ['100', '50', '99', '100']);
  assert.deepEqual(byTime.get(hhmmss(second + 1_000))?.slice(1, 5), ['1', '700', '700', '700']);
  const sampled = rows.map((r) => r.split('\t')).filter((c) => c[5] !== '');
  assert.ok(sampled.length >= 1, 'at least one second has the machine’s CPU');
  for (const c of sampled) {
    assert.ok(Number(c[5]) >= 0 && Number(c[6]) >= 0, `cores are numbers: ${c.join(' ')}`);
    assert.equal(c[7], 'level2', 'the running compaction is named');
  }
});
