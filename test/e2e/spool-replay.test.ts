/**
 * Duplicates after a replay are harmless (SPEC: "duplicates are harmless"): a
 * point's identity in InfluxDB is measurement + tags + device timestamp, so a
 * point the spool writes again overwrites itself. Here the spool is made to
 * replay everything it ever took (the checkpoint is reset, as after a crash
 * right before a checkpoint save) against a real influxd.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../../lib/log.ts';
import { createMetrics, type Metrics } from '../../lib/metrics.ts';
import type { Point } from '../../lib/point.ts';
import { createInfluxV1Store } from '../../store/influx-v1.ts';
import type { TelemetryStore } from '../../store/telemetry-store.ts';
import { createSpoolTransport } from '../../transport/spool.ts';
import { writeCheckpoint } from '../../transport/spool-checkpoint.ts';
import { createStoreWriter } from '../../transport/store-writer.ts';
import { rows } from '../harness/influx-rows.ts';
import { type InfluxdServer, startInfluxd } from '../harness/influxd.ts';
import { eventually } from './devices.ts';

const TENANT = 'replay-a';
const N = 3_000;
const T0 = Date.now() - 3_600_000;

let influx: InfluxdServer;
let store: TelemetryStore;
let dir: string;

before(async () => {
  influx = await startInfluxd();
  store = createInfluxV1Store({
    url: influx.url,
    username: influx.adminUser,
    password: influx.adminPassword,
  });
  dir = mkdtempSync(join(tmpdir(), 'skjold-replay-'));
});
after(async () => {
  await store.close();
  await influx.stop();
  rmSync(dir, { recursive: true, force: true });
});

const point = (seq: number): Point => ({
  measurement: 'sim_unit',
  tags: { device: `d-${seq % 7}`, tenant: TENANT, role: 'processor' },
  fields: { seq, rssi_dbm: -60 - (seq % 30) },
  integerFields: ['seq'],
  timestampMs: T0 + seq,
});

async function openSpool(metrics: Metrics) {
  const logger = createLogger('silent');
  const writer = createStoreWriter({ store, metrics, logger, retryMaxMs: 300, keepTrying: () => true });
  return createSpoolTransport({
    dir,
    writer,
    metrics,
    logger,
    batchPoints: 500,
    maxWaitMs: 5,
    maxBytes: 64 * 1024 * 1024,
    // One segment: a drained segment is deleted, but the one being written stays.
    segmentBytes: 64 * 1024 * 1024,
    segmentMaxAgeMs: 10 * 60_000,
  });
}

const written = async (metrics: Metrics) =>
  (await metrics.pointsWritten.get()).values.reduce((n, v) => n + v.value, 0);

test('a replay writes every point again and InfluxDB still holds each once', async () => {
  const first = createMetrics({ defaultMetrics: false });
  const a = await openSpool(first);
  await Promise.all(Array.from({ length: N }, (_, i) => a.send(TENANT, point(i))));
  await eventually('drained', () => a.buffered() === 0);
  await a.close();
  assert.equal(await written(first), N);

  // As if the process had died before any checkpoint reached the disk.
  await writeCheckpoint(dir, 0);
  const second = createMetrics({ defaultMetrics: false });
  const b = await openSpool(second);
  await eventually('replayed', () => b.buffered() === 0);
  await b.close();
  assert.equal(await written(second), N, 'every point was written to InfluxDB a second time');
  assert.equal(
    (await second.spoolReplayed.get()).values[0]?.value,
    await written(second),
    'every replayed point counted',
  );

  const stored = await rows(store, TENANT, 'SELECT seq FROM sim_unit');
  const seqs = stored.map((r) => Number(r.seq));
  assert.equal(seqs.length, N, 'one row per point');
  assert.equal(new Set(seqs).size, N, 'each point once');
});
