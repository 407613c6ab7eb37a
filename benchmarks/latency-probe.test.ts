/**
 * The latency probe against a real influxd, read in parts the way the soak
 * reads it. Outside `npm test` (like the other benchmark tests):
 * `npx node --test benchmarks/latency-probe.test.ts`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { type ProbeTarget, sampleLatencies, startProbe } from './latency-probe.ts';

const TENANT = 'probe-test';
const targets: ProbeTarget[] = [
  { login: 'a', tenantId: TENANT, measurement: 'heat_meter', pseudonym: 'pa' },
  { login: 'b', tenantId: TENANT, measurement: 'heat_meter', pseudonym: 'pb' },
];
let server: InfluxdServer;
let store: TelemetryStore;

before(async () => {
  server = await startInfluxd();
  store = adminStore(server);
  await store.ensureTenant(TENANT);
});
after(async () => {
  await store?.close();
  await server?.stop();
});

let clock = Date.now();
const write = (pseudonym: string, seqs: number[]) =>
  store.write(
    TENANT,
    seqs.map((seq) => ({
      measurement: 'heat_meter',
      tags: { device: pseudonym },
      fields: { seq },
      integerFields: ['seq'],
      timestampMs: clock++,
    })),
  );
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('take hands over what was seen of each part, forgets it and what came too late, and keeps polling', async () => {
  const probe = startProbe({ store, targets, firstSeq: 100, sinceMs: clock - 1, intervalMs: 50 });
  try {
    const sentAt = Date.now();
    await write('pa', range(100, 104));
    await write('pb', range(100, 104));
    const first = await probe.take({ a: range(100, 104), b: range(100, 104) }, 10_000);
    assert.deepEqual([...(first.get('a')?.keys() ?? [])], range(100, 104));
    assert.deepEqual([...(first.get('b')?.keys() ?? [])], range(100, 104));
    for (const at of first.get('a')?.values() ?? []) assert.ok(at >= sentAt - 100);
    assert.equal(probe.seen.get('a')?.size, 0, 'handed over and forgotten');

    // 106 is missing when its part is taken: absent from the hand-over, and not waited for again.
    await write('pa', [105, 107]);
    const second = await probe.take({ a: [105, 106, 107] }, 1_000);
    assert.deepEqual([...(second.get('a')?.keys() ?? [])].sort(), [105, 107]);
    const latencies = sampleLatencies({ a: new Map([105, 106, 107].map((seq) => [seq, sentAt])) }, second, {
      a: [],
    });
    assert.equal(latencies.latencies.length, 2);
    assert.equal(latencies.notSeen, 1);

    // Written late, 106 comes back in the same answer as 108: only 108 is handed over, and 106 is not kept.
    await write('pa', [106]);
    await write('pa', [108]);
    const third = await probe.take({ a: [108] }, 10_000);
    assert.deepEqual([...(third.get('a')?.keys() ?? [])], [108]);
    assert.equal(probe.seen.get('a')?.has(106), false);
    assert.equal(probe.seen.get('a')?.size, 0);
    assert.equal(probe.stats.errors, 0);
  } finally {
    await probe.finish({}, 0);
  }
});
