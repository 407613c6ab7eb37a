/**
 * `npm run bench:privacy` (also the last part of `npm run bench`): how long
 * erasing one data subject and one tenant's retention run take in a store of
 * thousands of devices × 30 days of 15-minute readings, and how those times
 * change when the rest of the store grows. Writes
 * benchmarks/results/privacy.json and prints a summary.
 *
 * Round 1: tenant `homes` (1,000 heat meters, open contract, 100 subjects of
 * 3 meters each) and tenant `retire-1` (1,000 heat meters whose contract ended
 * 2025-01-31, so retention deletes their telemetry and keeps billing
 * readings): 2,000 devices, 5.76 M points. Erase one subject of `homes`; run
 * retention for `retire-1`.
 * Tenant `flats` (1,000 heat meters, three occupants in turn on each: the
 * 30 days split into thirds, the last one still living there): erase the
 * middle occupant of one meter — a time-bounded DELETE of that period, the
 * other occupants' readings and the series kept.
 * Round 2: add `retire-2` (the same shape as `retire-1`) and `filler` (2,000
 * meters, open contract), and 1,000 more meters with occupants to `flats`
 * itself, so the data around each operation at least doubles; erase another
 * subject of `homes` and another middle occupant in `flats`; run retention
 * for `retire-2`.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { createSkjold, type Skjold } from '../app/create-skjold.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import type { Point } from '../lib/point.ts';
import { eraseSubject } from '../requests/erasure.ts';
import { runRetentionForTenant } from '../retention/retention.ts';
import { startInfluxd } from '../test/harness/influxd.ts';
import { freshPglite } from '../test/harness/registry.ts';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' }, // per tenant
    days: { type: 'string', default: '30' },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'privacy.json') },
  },
});
const DEVICES = Number(args.devices);
const DAYS = Number(args.days);
const PER_DAY = 96; // 15-minute readings
const DATA_START = Date.UTC(2025, 0, 1);
const ENDED = '2025-01-31';
const QUARTER_HOUR = 15 * 60_000;
const OCCUPANTS = 3;

const log = (line: string) => process.stdout.write(`${line}\n`);

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: Math.round(performance.now() - started) };
}

/**
 * Registers `n` heat meters straight into the registry and writes DAYS of
 * readings for each. `subjectsOf`: one subject per that many meters, linked
 * open-ended. `occupants`: that many subjects per meter in turn, each for an
 * equal part of the DAYS (the last still occupying). `firstDevice` > 0 adds
 * meters to a tenant loaded before.
 */
async function loadTenant(
  skjold: Skjold,
  tenantId: string,
  n: number,
  contract: { endsOn: string | null },
  options: { subjectsOf?: number; occupants?: number; firstDevice?: number } = {},
): Promise<{ points: number; seconds: number }> {
  const { subjectsOf = 0, occupants = 0, firstDevice = 0 } = options;
  const started = performance.now();
  if (firstDevice === 0) await createTenant(skjold, tenantId, contract);
  const tags = {
    tenant: tenantId,
    contract: 'heat',
    role: 'processor',
    purpose: 'district heating billing',
    legal_basis: 'contract',
  };
  let points = 0;
  let batch: Point[] = [];
  const writes: Promise<void>[] = [];
  const flush = async () => {
    const b = batch;
    batch = [];
    writes.push(skjold.store.write(tenantId, b));
    if (writes.length >= 2) await writes.shift();
  };
  for (let d = firstDevice; d < firstDevice + n; d++) {
    const login = `KAM${String(d).padStart(8, '0')}`;
    const pseudonym = skjold.pseudonymizer.pseudonym(tenantId, 'wmbus', login, 1);
    const id = randomUUID();
    await skjold.registry.createDevice({
      id,
      tenantId,
      contractId: 'heat',
      kind: 'heat_meter',
      loginHash: `${tenantId}:${login}`,
      loginType: 'wmbus',
      // Not a usable credential: these meters never connect, they only have history.
      credentialHash: 'bench',
      pseudonyms: [{ keyVersion: 1, idType: 'wmbus', pseudonym }],
      area: `area-${d % 100}`,
    });
    if (subjectsOf > 0) {
      const ref = `customer-${Math.floor(d / subjectsOf)}`;
      await skjold.registry.createSubject(tenantId, ref);
      await skjold.registry.linkSubjectDevice(tenantId, ref, id);
    }
    const span = (DAYS * PER_DAY * QUARTER_HOUR) / Math.max(occupants, 1);
    for (let k = 0; k < occupants; k++) {
      const ref = occupantRef(d, k);
      await skjold.registry.createSubject(tenantId, ref);
      await skjold.registry.linkSubjectDevice(tenantId, ref, id, {
        from: new Date(DATA_START + k * span),
        to: k === occupants - 1 ? null : new Date(DATA_START + (k + 1) * span),
      });
    }
    let energy = 1000 + d;
    for (let i = 0; i < DAYS * PER_DAY; i++) {
      energy += 0.5;
      batch.push({
        measurement: 'heat_meter',
        tags: { ...tags, device: pseudonym },
        fields: {
          energy_kwh: energy,
          volume_m3: energy / 50,
          flow_temp_c: 70,
          return_temp_c: 40,
          power_kw: 2,
          flow_m3h: 0.1,
          status: 'ok',
        },
        timestampMs: DATA_START + i * QUARTER_HOUR,
      });
      if (batch.length >= 5000) await flush();
    }
    points += DAYS * PER_DAY;
  }
  if (batch.length > 0) await flush();
  await Promise.all(writes);
  return { points, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

const occupantRef = (device: number, k: number) => `flat-${device}-occupant-${k}`;

async function createTenant(skjold: Skjold, tenantId: string, contract: { endsOn: string | null }) {
  await skjold.registry.createTenant({ id: tenantId, name: tenantId });
  await skjold.keyStore.ensureTenant(tenantId);
  await skjold.store.ensureTenant(tenantId);
  await skjold.registry.createContract({
    tenantId,
    id: 'heat',
    role: 'processor',
    purpose: 'district heating billing',
    legalBasis: 'contract',
    startsOn: '2024-01-01',
    endsOn: contract.endsOn,
    jurisdiction: 'DK',
    gpsGridMeters: null,
  });
}

/** How long each index-purging influxd restart took, so the operations' own cost can be told apart. */
const restarts: number[] = [];
const restartMsSince = (from: number) => restarts.slice(from).reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'skjold-bench-privacy-'));
  const influx = await startInfluxd();
  const config = loadConfig(
    { SKJOLD_LOG_LEVEL: 'warn' },
    {
      SKJOLD_DATA_DIR: dataDir,
      SKJOLD_KEY_FILE: join(dataDir, 'keys.json'),
      SKJOLD_INFLUX_URL: influx.url,
      SKJOLD_INFLUX_USER: influx.adminUser,
      SKJOLD_INFLUX_PASSWORD: influx.adminPassword,
      SKJOLD_OPERATOR_TOKEN: 'bench-operator-token-0123456789',
    },
  );
  const skjold = await createSkjold(config, {
    logger: createLogger('warn'),
    sql: await freshPglite(),
    restartInfluxd: async () => {
      const started = performance.now();
      await influx.restart();
      restarts.push(Math.round(performance.now() - started));
    },
  });
  const rounds: unknown[] = [];
  try {
    const loads: Record<string, unknown> = {};
    log(`privacy: loading homes and retire-1 (${DEVICES} meters each × ${DAYS} days)…`);
    loads.homes = await loadTenant(skjold, 'homes', DEVICES, { endsOn: null }, { subjectsOf: 3 });
    loads['retire-1'] = await loadTenant(skjold, 'retire-1', DEVICES, { endsOn: ENDED });
    log(`privacy: loading flats (${DEVICES} meters, ${OCCUPANTS} occupants in turn on each)…`);
    loads.flats = await loadTenant(skjold, 'flats', DEVICES, { endsOn: null }, { occupants: OCCUPANTS });
    log(`  ${JSON.stringify(loads)}`);
    rounds.push(await measure(skjold, 1, 'customer-1', 'retire-1', 3 * DEVICES, DEVICES));

    log(
      `privacy: adding retire-2 (${DEVICES}), filler (${2 * DEVICES} meters) and ${DEVICES} meters to flats…`,
    );
    loads['retire-2'] = await loadTenant(skjold, 'retire-2', DEVICES, { endsOn: ENDED });
    loads.filler = await loadTenant(skjold, 'filler', 2 * DEVICES, { endsOn: null });
    loads['flats+'] = await loadTenant(
      skjold,
      'flats',
      DEVICES,
      { endsOn: null },
      { occupants: OCCUPANTS, firstDevice: DEVICES },
    );
    log(`  ${JSON.stringify(loads)}`);
    rounds.push(await measure(skjold, 2, 'customer-2', 'retire-2', 7 * DEVICES, 2 * DEVICES));

    const results = {
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      settings: { devicesPerTenant: DEVICES, days: DAYS, readingsPerDay: PER_DAY },
      loads,
      rounds,
    };
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`);
    log(`results: ${relative(process.cwd(), args.out)}`);
  } finally {
    await skjold.stop();
    await skjold.registry.close();
    await influx.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function measure(
  skjold: Skjold,
  round: number,
  subject: string,
  retireTenant: string,
  devicesInStore: number,
  flats: number,
) {
  let mark = restarts.length;
  // The middle occupant of a different meter each round: a period with others' readings on both sides.
  const occupant = await timed(() =>
    eraseSubject(skjold, 'flats', occupantRef(round * 7, 1), { actor: 'operator' }),
  );
  const occupantRestartMs = restartMsSince(mark);
  const o = occupant.value;
  const othersKept = o.kept.find((k) => k.periods)?.points ?? 0;
  log(
    `round ${round} (${devicesInStore} devices in the store, ${flats} in flats): erase one occupant's period ` +
      `(${o.deleted.before.points} points; ${othersKept} of other occupants kept, ${o.deleted.series.length} series dropped) ` +
      `${occupant.ms} ms, of which influxd restart ${occupantRestartMs} ms`,
  );
  mark = restarts.length;
  const erase = await timed(() => eraseSubject(skjold, 'homes', subject, { actor: 'operator' }));
  const eraseRestartMs = restartMsSince(mark);
  const r = erase.value;
  log(
    `round ${round} (${devicesInStore} devices in the store): erase one subject (${r.deleted.devices.length} meters, ` +
      `${r.deleted.before.points} points) ${erase.ms} ms, of which influxd restart ${eraseRestartMs} ms; index ${r.deleted.index.state}`,
  );
  mark = restarts.length;
  const retention = await timed(() => runRetentionForTenant(skjold, retireTenant));
  const retentionRestartMs = restartMsSince(mark);
  const contract = retention.value.receipt.contracts[0];
  log(
    `round ${round}: retention for ${retireTenant} (${DEVICES} meters) ${retention.ms} ms, of which influxd restart ` +
      `${retentionRestartMs} ms; index ${retention.value.receipt.index?.state ?? 'n/a'}`,
  );
  return {
    round,
    devicesInStore,
    occupantErasure: {
      ms: occupant.ms,
      influxdRestartMs: occupantRestartMs,
      metersInTenant: flats,
      periods: o.deleted.periods,
      pointsBefore: o.deleted.before.points,
      pointsAfter: o.deleted.after.points,
      otherOccupantsPointsKept: othersKept,
      seriesDropped: o.deleted.series.length,
      kept: o.kept,
    },
    erasure: {
      ms: erase.ms,
      influxdRestartMs: eraseRestartMs,
      devices: r.deleted.devices.length,
      pointsBefore: r.deleted.before.points,
      pointsAfter: r.deleted.after.points,
      index: r.deleted.index,
      kept: r.kept,
    },
    retention: {
      tenant: retireTenant,
      ms: retention.ms,
      influxdRestartMs: retentionRestartMs,
      index: retention.value.receipt.index,
      contract,
    },
  };
}

await main();
