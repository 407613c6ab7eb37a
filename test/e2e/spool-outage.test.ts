/**
 * Store outages with the spool (the default transport). SPEC: "Nothing
 * acknowledged is lost: QoS 1 messages survive … a store outage; duplicates
 * are harmless." Devices publish numbered streams at QoS 1; influxd is killed
 * under load. While the spool has room, devices keep getting PUBACKs (their
 * messages are durable on local disk); at the spool's bound PUBACKs stop and
 * nothing is dropped. Once influxd is back, every acknowledged number is in
 * InfluxDB, each once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { addTenantFleet, eventually, holdsFor, type TestDevice } from './devices.ts';
import { metricValue, scrape } from './metrics.ts';
import { assertAllAckedStored, connectReconnecting, publishSequences } from './seq-publisher.ts';

const OUTAGE_MS = 30_000;
const T0 = Date.now() - 3_600_000;

let influx: InfluxdServer;
const stacks: Stack[] = [];

before(async () => {
  influx = await startInfluxd();
});
after(async () => {
  for (const s of stacks) await s.stop();
  await influx.stop();
});

async function stackWith(overrides: Parameters<typeof startStack>[0]): Promise<Stack> {
  // A short backoff ceiling so the drainer notices influxd's return quickly.
  const stack = await startStack({ SKJOLD_RETRY_MAX_MS: 300, ...overrides }, { influx });
  stacks.push(stack);
  assert.equal(stack.config.SKJOLD_TRANSPORT, 'spool', 'the spool is the default transport');
  return stack;
}

const devicesFor = (stack: Stack, tenant: string, count: number): Promise<TestDevice[]> =>
  addTenantFleet(stack.api, tenant, count, ['sim_unit', 'heat_meter', 'building_sensor']);

const spoolMetrics = async (stack: Stack) => {
  const text = await scrape(stack.apiUrl);
  return {
    storeUp: metricValue(text, 'skjold_store_up'),
    pending: metricValue(text, 'skjold_spool_records_pending'),
    bytes: metricValue(text, 'skjold_spool_bytes'),
    full: metricValue(text, 'skjold_spool_full'),
    written: metricValue(text, 'skjold_store_points_written_total'),
  };
};

test('InfluxDB down for 30 s under load: PUBACKs continue from the spool, and every acknowledged message arrives once it is back', async (t) => {
  const stack = await stackWith({});
  const devices = await devicesFor(stack, 'spool-outage-a', 6);
  const clients = await connectReconnecting(stack.mqttUrl, devices);
  const pub = publishSequences(devices, clients, { ratePerDevice: 25, window: 20, t0: T0 });
  try {
    await eventually('some messages stored', async () => pub.acked() > 100);
    await influx.kill();
    const ackedAtKill = pub.acked();
    const killedAt = Date.now();
    await eventually('the store is reported down', async () => (await spoolMetrics(stack)).storeUp === 0);
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - killedAt)));
    const ackedDuringOutage = pub.acked() - ackedAtKill;
    const down = await spoolMetrics(stack);
    // 6 devices × 25/s × 30 s = 4500 offered; the spool must have taken most of them.
    assert.ok(ackedDuringOutage > 3000, `${ackedDuringOutage} acknowledged while InfluxDB was down`);
    assert.ok(down.pending > 3000, `${down.pending} points waiting in the spool`);
    assert.equal(down.full, 0);
    t.diagnostic(
      `acknowledged during the ${OUTAGE_MS / 1000} s outage: ${ackedDuringOutage}; spool ${down.bytes} bytes`,
    );

    await influx.restart();
    await pub.finish();
    await eventually('the spool drained', () => stack.skjold.transport.buffered() === 0, 60_000);
    // The stack is this test's own: its points-written count is this run's.
    const { written } = await spoolMetrics(stack);
    const checked = await assertAllAckedStored(stack.skjold.store, pub.streams, written);
    assert.equal(checked, pub.published());
    t.diagnostic(`${checked} acknowledged messages, all in InfluxDB, each once`);
  } finally {
    await pub.end();
  }
});

test('the spool at its bound: PUBACKs stop, nothing is dropped, and everything arrives once the store is back', async (t) => {
  const MAX_BYTES = 64 * 1024;
  const SEGMENT_BYTES = 16 * 1024;
  const stack = await stackWith({
    SKJOLD_SPOOL_MAX_BYTES: MAX_BYTES,
    SKJOLD_SPOOL_SEGMENT_BYTES: SEGMENT_BYTES,
  });
  const devices = await devicesFor(stack, 'spool-outage-b', 5);
  const clients = await connectReconnecting(stack.mqttUrl, devices);
  const pub = publishSequences(devices, clients, { ratePerDevice: 100, window: 30, t0: T0 });
  try {
    await eventually('some messages stored', async () => pub.acked() > 50);
    await influx.kill();
    await eventually('the spool is full', async () => (await spoolMetrics(stack)).full === 1, 30_000);
    // Appends that were already committing when the bound was hit still get their PUBACK.
    await new Promise((r) => setTimeout(r, 200));
    const ackedWhenFull = pub.acked();
    await holdsFor('no PUBACK while the spool is full', 2_000, async () => {
      const m = await spoolMetrics(stack);
      return pub.acked() === ackedWhenFull && m.full === 1;
    });
    // The bound counts what the store has not taken; the oldest segment file
    // may also still hold drained records until all of it is drained.
    const { bytes } = await spoolMetrics(stack);
    assert.ok(bytes <= MAX_BYTES + SEGMENT_BYTES, `${bytes} bytes on disk`);
    assert.ok(pub.published() > pub.acked(), 'devices hold messages the broker has not acknowledged');
    assert.ok(
      stack.logs.some((l) => l.includes('spool full')),
      'a log line says the spool is full',
    );

    await influx.restart();
    await pub.finish();
    await eventually('the spool drained', () => stack.skjold.transport.buffered() === 0, 60_000);
    assert.equal((await spoolMetrics(stack)).full, 0);
    assert.ok(stack.logs.some((l) => l.includes('spool has room again')));
    const { written } = await spoolMetrics(stack);
    const checked = await assertAllAckedStored(stack.skjold.store, pub.streams, written);
    assert.equal(checked, pub.published(), 'every published message was acknowledged in the end');
    t.diagnostic(`${checked} messages through a full spool, all in InfluxDB, each once`);
  } finally {
    await pub.end();
  }
});
