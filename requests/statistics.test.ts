/**
 * The operator's fleet statistics against a real InfluxDB and PGlite: a
 * tenant whose kind has fewer than five reporting devices shows neither
 * points nor mean; a larger one shows the mean of its devices' means (each
 * device weighs the same) and no minimum or maximum; an objection that brings
 * a group under five suppresses it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Point } from '../lib/point.ts';
import { createRegistry, type Registry } from '../registry/registry.ts';
import type { SqlClient } from '../registry/sql.ts';
import { MIN_ANONYMISE_K } from '../retention/policy.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { adminStore, type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { type FleetStatistics, fleetStatistics } from './statistics.ts';
import { OPERATOR_STATISTICS } from './subjects.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const RANGE = { from: new Date(NOW - 7 * 86_400_000), to: new Date(NOW) };

let server: InfluxdServer;
let store: TelemetryStore;
let sql: SqlClient;
let registry: Registry;
const sensorIds: Record<string, string[]> = {};

/** A building sensor whose readings (temperatures) are written under each of its key versions' pseudonyms in turn. */
async function sensor(tenantId: string, temperatures: number[], versions = 1): Promise<string> {
  const id = randomUUID();
  const pseudonyms = Array.from({ length: versions }, (_, v) => `v${v + 1}.${randomUUID()}`);
  await registry.createDevice({
    id,
    tenantId,
    contractId: 'rooms',
    kind: 'building_sensor',
    loginHash: randomUUID(),
    loginType: 'serial',
    credentialHash: 'x',
    pseudonyms: pseudonyms.map((pseudonym, v) => ({ keyVersion: v + 1, idType: 'serial', pseudonym })),
  });
  const points: Point[] = temperatures.map((t, i) => ({
    measurement: 'building_sensor',
    tags: {
      tenant: tenantId,
      device: pseudonyms[i % versions] ?? '',
      contract: 'rooms',
      role: 'controller',
      purpose: 'p',
      legal_basis: 'contract',
    },
    fields: { temperature_c: t, humidity_pct: 40, co2_ppm: 600, occupancy: 1 },
    integerFields: ['co2_ppm', 'occupancy'],
    timestampMs: NOW - 86_400_000 + i * 60_000,
  }));
  if (points.length > 0) await store.write(tenantId, points);
  sensorIds[tenantId] = [...(sensorIds[tenantId] ?? []), id];
  return id;
}

async function tenant(id: string) {
  await registry.createTenant({ id, name: id });
  await registry.createContract({
    id: 'rooms',
    tenantId: id,
    role: 'controller',
    purpose: 'comfort',
    legalBasis: 'contract',
    startsOn: '2025-01-01',
    endsOn: null,
    jurisdiction: 'SE',
    gpsGridMeters: null,
  });
  await store.ensureTenant(id);
}

const sensorsOf = (stats: FleetStatistics, t: string) =>
  stats.tenants.find((x) => x.tenant === t)?.kinds.find((k) => k.kind === 'building_sensor');

before(async () => {
  server = await startInfluxd();
  store = adminStore(server);
  sql = await freshPglite();
  registry = createRegistry(sql);
  // Four sensors report, a fifth is registered but silent: four is the group.
  await tenant('liten');
  for (const t of [20, 21, 22, 23]) await sensor('liten', [t, t]);
  await sensor('liten', []);
  // Six sensors; one reports ten times as often, and one was rekeyed (two series).
  await tenant('stor');
  await sensor('stor', Array(10).fill(30));
  await sensor('stor', [20, 20], 2);
  for (const t of [20, 20, 20, 20]) await sensor('stor', [t]);
});

after(async () => {
  await store.close();
  await sql.close();
  await server.stop();
});

test('a kind with fewer than five reporting devices shows neither points nor mean', async () => {
  const stats = await fleetStatistics({ registry, store }, RANGE);
  assert.equal(stats.minGroupSize, MIN_ANONYMISE_K);
  assert.deepEqual(sensorsOf(stats, 'liten'), {
    kind: 'building_sensor',
    devices: 5,
    reporting: 4,
    suppressed: true,
    points: null,
    field: 'temperature_c',
    mean: null,
  });
});

test('a group of five or more shows the mean of its devices’ means, and no minimum or maximum', async () => {
  const stats = await fleetStatistics({ registry, store }, RANGE);
  const s = sensorsOf(stats, 'stor');
  // Devices weigh the same: (30 + 5 × 20) / 6, where a mean of readings would be 20 + 100/16.
  assert.deepEqual(s, {
    kind: 'building_sensor',
    devices: 6,
    reporting: 6,
    suppressed: false,
    points: 10 + 2 + 4,
    field: 'temperature_c',
    mean: (30 + 5 * 20) / 6,
  });
  for (const k of stats.tenants.flatMap((t) => t.kinds)) {
    assert.deepEqual(
      Object.keys(k).sort(),
      ['devices', 'field', 'kind', 'mean', 'points', 'reporting', 'suppressed'],
      'count and mean only',
    );
  }
});

test('an objection that leaves a group of four suppresses it', async () => {
  const [first, second] = sensorIds.stor ?? [];
  assert.ok(first && second);
  for (const [ref, device] of [
    ['anna', first],
    ['bo', second],
  ] as const) {
    await registry.createSubject('stor', ref);
    await registry.linkSubjectDevice('stor', ref, device);
    await sql.query(
      `INSERT INTO subject_objections (tenant_id, subject_ref, purpose, basis, since) VALUES ($1, $2, $3, 'objection', now())`,
      ['stor', ref, OPERATOR_STATISTICS],
    );
  }
  const stats = await fleetStatistics({ registry, store }, RANGE);
  assert.equal(stats.excludedDevices, 2);
  const s = sensorsOf(stats, 'stor');
  assert.deepEqual([s?.devices, s?.reporting, s?.suppressed, s?.points, s?.mean], [4, 4, true, null, null]);
});
