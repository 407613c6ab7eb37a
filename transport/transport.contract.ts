import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Point } from '../lib/point.ts';
import { encodePoint } from '../store/line-protocol.ts';
import type { StoreWriters } from './store-writer.ts';
import type { Transport } from './transport.ts';

/** What reached the store side of a transport under test: a point's line, as InfluxDB would get it. */
export interface Delivered {
  tenantId: string;
  line: string;
}

export interface TransportUnderTest {
  transport: Transport;
  /** The bound `bufferPoints` the transport was built with. */
  bufferPoints: number;
  /** Stops whatever runs beside the transport (a writer, a cluster); the transport is closed by the suite. */
  stop(): Promise<void>;
}

/**
 * Builds a transport whose store side writes through `writer` — directly for
 * the in-process transport, through Kafka and a consumer-group writer for the
 * Kafka one.
 */
export type MakeTransport = (writer: StoreWriters, bufferPoints: number) => Promise<TransportUnderTest>;

/** A store writer that records what it is given, points (the in-process transport) or lines (Kafka's writers). */
export function recordingWriter() {
  const delivered: Delivered[] = [];
  const writer: StoreWriters = {
    async write(tenantId, points) {
      await delay(1);
      for (const point of points) delivered.push({ tenantId, line: encodePoint(point) });
    },
    async writeLines(tenantId, lines, points) {
      await delay(1);
      const split = lines.toString('utf8').split('\n');
      assert.equal(split.length, points, 'one line per point');
      for (const line of split) delivered.push({ tenantId, line });
    },
  };
  return { writer, delivered };
}

/** The `seq` field of a point's line. */
export const seqOf = (line: string): number => Number(/[ ,]seq=(\d+)i/.exec(line)?.[1]);

const point = (i: number): Point => ({
  measurement: i % 3 === 0 ? 'heat_meter' : 'sim_unit',
  tags: { tenant: i % 2 ? 'a' : 'b', device: `v1.device${i % 7}`, role: 'processor' },
  fields: { seq: i, value: i / 4, note: `n${i}`, ok: i % 2 === 0 },
  integerFields: ['seq'],
  timestampMs: 1_796_000_000_000 + i,
});

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await delay(10);
  }
}

/**
 * What every transport must do (STYLE: one contract suite for all backends,
 * as aedes-persistence's abstract.js): every acknowledged point reaches the
 * store side intact and under its tenant; the buffer keeps its bound; a closed
 * transport refuses points.
 */
export function transportContract(name: string, make: MakeTransport): void {
  test(`${name}: every point sent reaches the store side intact, under its tenant`, async () => {
    const { writer, delivered } = recordingWriter();
    const t = await make(writer, 10_000);
    try {
      const n = 3000;
      await Promise.all(Array.from({ length: n }, (_, i) => t.transport.send(i % 2 ? 'a' : 'b', point(i))));
      await until('all delivered', () => new Set(delivered.map((d) => seqOf(d.line))).size === n);
      for (const d of delivered) {
        const i = seqOf(d.line);
        assert.equal(d.tenantId, i % 2 ? 'a' : 'b');
        assert.equal(d.line, encodePoint(point(i)));
      }
    } finally {
      await t.transport.close();
      await t.stop();
    }
  });

  test(`${name}: under a flood the buffer never holds more than its bound, and drains`, async () => {
    const { writer } = recordingWriter();
    const t = await make(writer, 50);
    try {
      let peak = 0;
      await Promise.all(
        Array.from({ length: 2000 }, async (_, i) => {
          peak = Math.max(peak, t.transport.buffered());
          await t.transport.send('a', point(i));
          peak = Math.max(peak, t.transport.buffered());
        }),
      );
      assert.ok(peak <= 50, `peak ${peak}`);
      assert.equal(t.transport.buffered(), 0);
    } finally {
      await t.transport.close();
      await t.stop();
    }
  });

  test(`${name}: drained() resolves only once every point sent before it reached the store side`, async () => {
    const { writer, delivered } = recordingWriter();
    const t = await make(writer, 10_000);
    try {
      const n = 500;
      const sends = Array.from({ length: n }, (_, i) => t.transport.send('a', point(i)));
      await t.transport.drained();
      assert.equal(new Set(delivered.map((d) => seqOf(d.line))).size, n);
      await Promise.all(sends);
    } finally {
      await t.transport.close();
      await t.stop();
    }
  });

  test(`${name}: after close, sends are refused`, async () => {
    const { writer } = recordingWriter();
    const t = await make(writer, 100);
    await t.transport.send('a', point(1));
    await t.transport.close();
    await t.stop();
    await assert.rejects(t.transport.send('a', point(2)), { code: 'SKJOLD_ERR_TRANSPORT_CLOSED' });
  });
}
