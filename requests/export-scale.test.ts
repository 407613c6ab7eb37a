/**
 * A year of 15-minute heat-meter data from three devices (105,120 points)
 * exported through the API: streamed page by page, never held whole, and
 * every point there exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Point } from '../lib/point.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { addDevice, addTenant, identifierSource, type TestDevice } from '../test/e2e/devices.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { ALL_SCOPES, issueToken } from '../test/harness/tenant-api.ts';
import { exportStream } from './export.ts';
import { createTelemetryPages } from './telemetry-pages.ts';

const TENANT = 'aarsdata';
const STEP = 15 * 60_000;
const PER_DEVICE = 365 * 96;
const START = Date.UTC(2025, 0, 1);
let stack: Stack;
let token: string;
let meters: TestDevice[];

before(async () => {
  stack = await startStack();
  await addTenant(stack.api, TENANT);
  const ids = identifierSource('a-year');
  meters = [];
  for (let i = 0; i < 3; i++) meters.push(await addDevice(stack.api, ids, TENANT, 'heat_meter'));
  token = (await issueToken(stack, TENANT, ALL_SCOPES)).token;
  for (const m of meters) {
    const res = await fetch(`${stack.apiUrl}/tenant/v1/subjects/kunde-42/devices`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ identifiers: { wmbus: m.login } }),
    });
    assert.equal(res.status, 200);
  }
  // Written as ingest writes them, in batches, without a year of MQTT.
  const contract = `${TENANT}-heat_meter`;
  for (const m of meters) {
    for (let from = 0; from < PER_DEVICE; from += 5000) {
      const points: Point[] = [];
      for (let i = from; i < Math.min(PER_DEVICE, from + 5000); i++) {
        points.push({
          measurement: 'heat_meter',
          tags: {
            tenant: TENANT,
            device: m.pseudonym,
            contract,
            role: 'processor',
            purpose: 'heat_meter telemetry',
            legal_basis: 'contract',
          },
          fields: {
            energy_kwh: i * 0.25,
            volume_m3: i * 0.001,
            flow_temp_c: 70,
            return_temp_c: 40,
            power_kw: 1,
            flow_m3h: 0.03,
            status: 'ok',
            seq: i,
          },
          integerFields: ['seq'],
          timestampMs: START + i * STEP,
        });
      }
      await stack.skjold.store.write(TENANT, points);
    }
  }
});
after(() => stack.stop());

/** Reads a response body chunk by chunk, counting newlines, keeping nothing. */
async function countLines(res: Response): Promise<{ lines: number; bytes: number }> {
  assert.equal(res.status, 200);
  let lines = 0;
  let bytes = 0;
  const reader = res.body?.getReader();
  assert.ok(reader);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
    for (const b of value) if (b === 10) lines++;
  }
  return { lines, bytes };
}

test('the JSON export streams every one of a year’s points from three devices', async () => {
  const res = await fetch(`${stack.apiUrl}/tenant/v1/subjects/kunde-42/export?format=json`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const { lines, bytes } = await countLines(res);
  // The header ends its line, every point after the first starts one, the closing bracket and the summary end theirs.
  assert.equal(lines, 3 * PER_DEVICE + 2, `${bytes} bytes`);
});

test('the CSV export has a row per point', async () => {
  const res = await fetch(`${stack.apiUrl}/tenant/v1/subjects/kunde-42/export?format=csv`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const { lines } = await countLines(res);
  assert.equal(lines, 1 + 3 * PER_DEVICE);
});

test('the export asks InfluxDB for one page at a time, as the reader takes them', async () => {
  let selects = 0;
  const store = stack.skjold.store;
  const counting: TelemetryStore = {
    ...store,
    query: (tenant, q) => {
      if (q.startsWith('SELECT')) selects++;
      return store.query(tenant, q);
    },
  };
  const pages = createTelemetryPages(counting, TENANT, 1000);
  const header = {
    format: 'skjold-export/1' as const,
    generatedAt: '',
    tenant: TENANT,
    view: 'tenant' as const,
  };
  const stream = exportStream(pages, { deviceIn: meters.map((m) => m.pseudonym) }, header, [], 'json');
  let read = 0;
  for await (const chunk of stream) {
    read += String(chunk).length;
    if (read > 100_000) break;
  }
  stream.destroy();
  // ~100 kB is a few hundred points: a handful of pages, not the 106 a whole read takes.
  assert.ok(selects <= 5, `${selects} SELECTs before the reader had 100 kB`);
});
