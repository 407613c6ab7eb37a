/** What the figures were measured on, for the results file. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { influxdBinary } from '../test/harness/influxd.ts';

const packageVersion = (name: string): string => {
  try {
    const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

export function machineInfo() {
  let influxd = 'unknown';
  try {
    influxd = execFileSync(influxdBinary(), ['version']).toString().trim();
  } catch {
    // Reported as unknown; Phase A would fail loudly anyway.
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    influxd,
    aedes: packageVersion('aedes'),
    mqtt: packageVersion('mqtt'),
  };
}
