import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach } from 'node:test';
import { createLogger } from '../lib/log.ts';
import { createMetrics, type Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import { createSpoolTransport, type SpoolOptions } from './spool.ts';
import { writeFrame } from './spool-frame.ts';
import { openSpoolLog } from './spool-log.ts';
import type { LineWriter } from './store-writer.ts';
import { seqOf } from './transport.contract.ts';

/**
 * What the spool's unit tests share: temporary spool directories (removed
 * after each test), the records the spool writes, and a store writer that
 * records what it was given and can be made to hang like a store that is down.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skjold-spool-'));
  dirs.push(dir);
  return dir;
}

export const point = (i: number): Point => ({
  measurement: 'sim_unit',
  tags: { device: 'd-pseudonym', tenant: 't' },
  fields: { seq: i, rssi: -70 },
  integerFields: ['seq'],
  timestampMs: 1_700_000_000_000 + i,
});

/** A record as the spool writes it: the point's line protocol, for tenant `t`. */
export function frame(i: number, tenant = 't'): Buffer {
  const buf = Buffer.alloc(4096);
  const end = writeFrame(buf, 0, tenant, point(i));
  assert.ok(end > 0, 'a test point fits in 4 KiB');
  return buf.subarray(0, end);
}

export function recordingWriter() {
  const stored: Array<{ tenant: string; seq: number }> = [];
  const bodies: Array<{ tenant: string; text: string }> = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const writer: LineWriter = {
    async writeLines(tenant, lines, points) {
      while (gate) await gate;
      const text = lines.toString('utf8');
      const split = text.split('\n');
      assert.equal(split.length, points, 'one line per point');
      bodies.push({ tenant, text });
      for (const line of split) stored.push({ tenant, seq: seqOf(line) });
    },
  };
  return {
    writer,
    stored,
    bodies,
    /** Writes wait until `up()`. */
    down() {
      gate = new Promise((r) => {
        open = r;
      });
    },
    up() {
      gate = undefined;
      open?.();
    },
  };
}

export function logSink() {
  const lines: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  );
  return { logger, lines };
}

export async function spool(dir: string, writer: LineWriter, extra: Partial<SpoolOptions> = {}) {
  const metrics = extra.metrics ?? createMetrics({ defaultMetrics: false });
  const { logger, lines } = logSink();
  const transport = await createSpoolTransport({
    dir,
    writer,
    metrics,
    logger,
    batchPoints: 100,
    maxWaitMs: 5,
    maxBytes: 1024 * 1024,
    segmentBytes: 64 * 1024,
    segmentMaxAgeMs: 60_000,
    ...extra,
  });
  return { transport, metrics, lines };
}

export async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function metric(metrics: Metrics, name: string): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find(
    (x) => !('metricName' in x) || x.metricName === undefined || x.metricName === `${name}_count`,
  );
  return v?.value ?? Number.NaN;
}

/** Spool files holding `n` records, as a process that died before draining any would leave them. */
export async function spoolFiles(dir: string, n: number): Promise<void> {
  const log = await openSpoolLog({ dir, segmentBytes: 1 << 20 }, 0);
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(frame(i))));
  await log.close();
}
