/**
 * The load process over its IPC channel, against a real aedes broker: one long
 * load read while it runs, the way the soak drives it. Outside `npm test`
 * (like the other benchmark tests): `npx node --test benchmarks/load-process.test.ts`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../device-sim/test-broker.ts';
import { benchFleet, type FleetSpec } from './bench-fleet.ts';
import { type Child, forkChild } from './ipc.ts';
import type { LoadPoll, LoadStarted, MqttLoadArgs } from './load-process.ts';

const spec: FleetSpec = { seed: 'load-process-test', devicesPerKind: 2 };
const devices = benchFleet(spec).devices;
let broker: TestBroker;
let load: Child;

before(async () => {
  broker = await startTestBroker(devices);
  load = forkChild('load', new URL('./load-process.ts', import.meta.url).pathname);
});
after(async () => {
  await load.stop();
  await broker.close();
});

test('a long load answers progress readings while loadEnd waits for it, and each sample once', async () => {
  const sampled = [devices[0]?.login, devices[5]?.login].filter((l) => l !== undefined);
  const args: MqttLoadArgs = {
    mqttUrl: broker.url,
    fleet: spec,
    totalRate: 600,
    durationMs: 2_000,
    maxInflight: 600,
    firstSeq: 1_000,
    sampleLogins: sampled,
  };
  const started = await load.call<LoadStarted>('loadStart', args);
  assert.equal(started.connected, devices.length);
  await assert.rejects(load.call('loadStart', args), /already running/);

  let endedAt = 0;
  const ending = load.call<LoadPoll>('loadEnd').then((last) => {
    endedAt = Date.now();
    return last;
  });
  const readings: LoadPoll[] = [];
  while (endedAt === 0) {
    // Once loadEnd has its answer the load is forgotten: a reading in flight then is refused.
    const reading = await load.call<LoadPoll>('loadProgress').catch((err: Error) => {
      if (/no long load/.test(err.message)) return undefined;
      throw err;
    });
    // A reading that did come back is kept, even if loadEnd's answer was handled first: it handed samples over.
    if (reading) readings.push(reading);
  }
  const last = await ending;

  // Served while the long call was pending: the load was still publishing.
  assert.ok(
    readings.some((r) => r.published > 0 && r.published < last.published && r.online === devices.length),
  );
  assert.equal(last.published, last.acked);
  assert.equal(last.unacked, 0);
  const seen = new Map<string, Set<number>>(sampled.map((l) => [l, new Set()]));
  for (const r of [...readings, last]) {
    assert.deepEqual(Object.keys(r.sample).sort(), [...sampled].sort());
    for (const [login, times] of Object.entries(r.sample))
      for (const seq of times.keys()) {
        assert.ok(!seen.get(login)?.has(seq), `${login} seq ${seq} handed over twice`);
        seen.get(login)?.add(seq);
      }
  }
  for (const login of sampled) {
    const sent = broker.received
      .filter((m) => m.username === login)
      .map((m) => JSON.parse(m.payload.toString()).seq);
    assert.ok(sent.length > 0);
    assert.deepEqual([...(seen.get(login) ?? [])].sort(), sent.sort());
  }
  await assert.rejects(load.call('loadProgress'), /no long load/);
});
