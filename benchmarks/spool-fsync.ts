/**
 * `node benchmarks/spool-fsync.ts`: what one group commit of the spool costs on
 * this machine's disk — one write of N records (~300 bytes each, the size of
 * a spool record) at the end of a segment file opened O_DSYNC, as the spool's
 * tail is, so the write returns once the bytes are durable — for rising
 * N. The spool's commit caps (transport/spool.ts, transport/README.md) are
 * read off this curve: where a sync stops costing the same whatever its
 * size. Writes benchmarks/results/spool-fsync.json and prints a table.
 *
 * The file is opened through the spool's own file layer and lives under the
 * system temp directory (use --dir to measure the disk SKJOLD_SPOOL_DIR is on).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { nodeSpoolFiles } from '../transport/spool-files.ts';
import { distribution } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,10,50,100,250,500,1000,2000,5000,10000,20000' },
    'record-bytes': { type: 'string', default: '300' },
    repeats: { type: 'string', default: '40' },
    dir: { type: 'string', default: tmpdir() },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'spool-fsync.json') },
  },
});

const recordBytes = Number(args['record-bytes']);
const repeats = Number(args.repeats);
const dir = mkdtempSync(join(args.dir, 'skjold-fsync-'));
const file = await nodeSpoolFiles.open(join(dir, 'segment'), 'w+dsync');
const rows: Array<{
  records: number;
  bytes: number;
  p50Ms: number;
  p99Ms: number;
  recordsPerSecond: number;
}> = [];
try {
  let position = 0;
  for (const records of args.sizes.split(',').map(Number)) {
    const data = Buffer.alloc(records * recordBytes, 0x61);
    const ms: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const started = performance.now();
      await file.write(data, 0, data.length, position);
      ms.push(performance.now() - started);
      position += data.length;
      // Segments end at 32 MiB: start over so the file stays a segment's size.
      if (position > 32 * 1024 ** 2) {
        await file.truncate(0);
        await file.sync();
        position = 0;
      }
    }
    const d = distribution(ms);
    rows.push({
      records,
      bytes: data.length,
      p50Ms: d.p50,
      p99Ms: d.p99,
      recordsPerSecond: Math.round(records / (d.p50 / 1000)),
    });
    const r = rows[rows.length - 1];
    process.stdout.write(
      `${String(records).padStart(6)} records ${String(Math.round(data.length / 1024)).padStart(6)} KiB: ` +
        `p50 ${r?.p50Ms} ms, p99 ${r?.p99Ms} ms → ${r?.recordsPerSecond} records/s at one sync at a time\n`,
    );
  }
} finally {
  await file.close();
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(
  args.out,
  `${JSON.stringify({ measuredAt: new Date().toISOString(), recordBytes, repeats, rows }, null, 2)}\n`,
);
process.stdout.write(`results: ${relative(process.cwd(), args.out)}\n`);
