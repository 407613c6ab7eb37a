/**
 * `node benchmarks/influx-write-size.ts`: what a point costs influxd, in CPU,
 * by the size of the write requests that carry it — the curve the spool's
 * drainer is sized by (transport/spool.ts, `DRAIN_WRITES_IN_FLIGHT`). For
 * each size a fresh influxd (the bench's own, with authentication) takes
 * heat-meter readings shaped as Skjold writes them (six tags, seven fields,
 * 600 devices, millisecond timestamps) at a fixed rate from two writers, and
 * its user + system CPU time is read from /proc over the measured window.
 * Writes benchmarks/results/influx-write-size.json and prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { Point } from '../lib/point.ts';
import { encodePoint } from '../store/line-protocol.ts';
import { startInfluxd } from '../test/harness/influxd.ts';
import { cpuSeconds, findPid, round } from './proc-sampler.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '300,900,2000,5000,10000' },
    rate: { type: 'string', default: '26000' },
    seconds: { type: 'string', default: '20' },
    'warmup-seconds': { type: 'string', default: '5' },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'influx-write-size.json') },
  },
});

const rate = Number(args.rate);
const seconds = Number(args.seconds);
const warmupSeconds = Number(args['warmup-seconds']);
const DEVICES = 600;
const TENANT = 'bench-tenant';

const tags = Array.from({ length: DEVICES }, (_, d) =>
  Object.freeze({
    tenant: TENANT,
    device: `p${d.toString(16).padStart(24, '0')}`,
    contract: 'c-2026-017',
    role: 'controller',
    purpose: 'billing',
    legal_basis: 'contract',
  }),
);

/** `n` readings as one write body: each device in turn, a second apart per round. */
function body(n: number, first: number, startMs: number): string {
  const lines: string[] = [];
  for (let i = first; i < first + n; i++) {
    const point: Point = {
      measurement: 'heat_meter',
      tags: tags[i % DEVICES] as Record<string, string>,
      fields: {
        seq: i,
        energy_kwh: 12_345.678 + i / 1000,
        volume_m3: 456.25 + i / 10_000,
        flow_temp_c: 70.5 + (i % 13) / 10,
        return_temp_c: 40.25 + (i % 7) / 10,
        power_kw: 12.5 + (i % 11),
        flow_m3h: 0.4 + (i % 5) / 100,
      },
      integerFields: ['seq'],
      timestampMs: startMs + Math.floor(i / DEVICES) * 1000,
    };
    lines.push(encodePoint(point));
  }
  return lines.join('\n');
}

/** influxd's user + system CPU time so far, s; it must still be running. */
function influxdCpu(pid: number): number {
  const s = cpuSeconds(pid);
  if (s === undefined) throw new Error('influxd: exited during the measurement');
  return s;
}

interface Row {
  pointsPerWrite: number;
  pointsPerSecond: number;
  writesPerSecond: number;
  influxdCores: number;
  influxdUsPerPoint: number;
}

async function measure(size: number): Promise<Row> {
  const influx = await startInfluxd();
  try {
    const pid = findPid(influx.dataDir);
    if (pid === undefined) throw new Error('influxd: process not found');
    const auth = `Basic ${Buffer.from(`${influx.adminUser}:${influx.adminPassword}`).toString('base64')}`;
    const query = await fetch(`${influx.url}/query`, {
      method: 'POST',
      headers: { authorization: auth },
      body: new URLSearchParams({ q: 'CREATE DATABASE bench' }),
    });
    await query.arrayBuffer();
    const startMs = Date.now() - 3_600_000;
    const started = Date.now();
    let taken = 0; // points handed to a writer
    let written = 0; // points influxd acknowledged
    let stop = false;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const wait = started + (taken / rate) * 1000 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const first = taken;
        taken += size;
        const res = await fetch(`${influx.url}/write?db=bench&precision=ms`, {
          method: 'POST',
          headers: { authorization: auth },
          body: body(size, first, startMs),
        });
        const text = await res.text();
        if (res.status !== 204) throw new Error(`influxd refused a write (HTTP ${res.status}): ${text}`);
        written += size;
      }
    };
    const writers = [writer(), writer()];
    await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
    const cpu0 = influxdCpu(pid);
    const points0 = written;
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu1 = influxdCpu(pid);
    const points = written - points0;
    const elapsed = (Date.now() - t0) / 1000;
    stop = true;
    await Promise.all(writers);
    return {
      pointsPerWrite: size,
      pointsPerSecond: Math.round(points / elapsed),
      writesPerSecond: round(points / size / elapsed, 1),
      influxdCores: round((cpu1 - cpu0) / elapsed, 2),
      influxdUsPerPoint: round(((cpu1 - cpu0) * 1e6) / points, 1),
    };
  } finally {
    await influx.stop();
  }
}

const rows: Row[] = [];
for (const size of args.sizes.split(',').map(Number)) {
  const row = await measure(size);
  rows.push(row);
  process.stdout.write(
    `${String(size).padStart(6)} points a write: ${row.pointsPerSecond} points/s in ${row.writesPerSecond} writes/s, ` +
      `influxd ${row.influxdCores} cores = ${row.influxdUsPerPoint} µs a point\n`,
  );
}
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(
  args.out,
  `${JSON.stringify({ measuredAt: new Date().toISOString(), rate, seconds, devices: DEVICES, rows }, null, 2)}\n`,
);
process.stdout.write(`written to ${relative(process.cwd(), args.out)}\n`);
