import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createFleet } from '../../device-sim/fleet.ts';
import { registerFleet } from '../../device-sim/register.ts';
import { type RunReport, runFleet } from '../../device-sim/runner.ts';
import { LOGIN_TYPE } from '../../registry/enrolment.ts';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { metricValue, scrape } from './metrics.ts';

const TENANTS = [
  { id: 'nordvarme', name: 'Nordvarme A/S', jurisdiction: 'DK' as const, role: 'processor' as const },
  { id: 'fjordnet', name: 'Fjordnet AB', jurisdiction: 'SE' as const, role: 'controller' as const },
];
const PER_DEVICE = 25;

let stack: Stack;
let report: RunReport;
let fleet: ReturnType<typeof createFleet>;

before(async () => {
  stack = await startStack();
  fleet = createFleet({ seed: 'pipeline', tenants: TENANTS, devicesPerKind: 4 });
  const registered = await registerFleet(fleet, stack.api.registrar);
  report = await runFleet({
    mqttUrl: stack.mqttUrl,
    devices: registered.devices,
    messagesPerDevice: PER_DEVICE,
    ratePerDevice: 50,
    qos: 1,
    startTime: new Date(Date.now() - 3_600_000),
    timeStepMs: 60_000,
    identifiers: fleet.identifiers,
    misbehave: { hiddenIdentifiers: 0.2 },
  });
  await stack.settled();
});
after(() => stack.stop());

test('every device published at QoS 1 and every message was acknowledged', () => {
  assert.equal(report.refusedConnects, 0);
  assert.equal(report.unacked, 0);
  assert.equal(report.acked, fleet.devices.length * PER_DEVICE);
  assert.equal(report.sent.length, fleet.devices.length * PER_DEVICE);
});

test('every published reading is in InfluxDB exactly once, in its tenant’s database, with its contract’s tags', async () => {
  for (const tenant of TENANTS) {
    const contracts = await stack.api.call<
      Array<{ id: string; role: string; purpose: string; legalBasis: string }>
    >('GET', `/v1/tenants/${tenant.id}/contracts`);
    for (const kind of ['heat_meter', 'sim_unit', 'building_sensor'] as const) {
      const sent = report.sent.filter((s) => s.tenantId === tenant.id && s.kind === kind);
      assert.ok(sent.length > 0);
      const stored = await rows(stack.skjold.store, tenant.id, `SELECT * FROM ${kind}`);
      const expected = new Map(
        sent.map((s) => {
          const pseudonym = stack.skjold.pseudonymizer.pseudonym(tenant.id, LOGIN_TYPE[kind], s.login);
          return [`${pseudonym}#${s.seq}`, s];
        }),
      );
      const seen = stored.map((r) => `${r.device}#${r.seq}`);
      assert.deepEqual(new Set(seen), new Set(expected.keys()), `${tenant.id}/${kind}: stored = published`);

      for (const r of stored) {
        const s = expected.get(`${r.device}#${r.seq}`);
        assert.ok(s);
        const contract = contracts.find((c) => c.id === r.contract);
        assert.ok(contract, 'tagged with one of the tenant’s contracts');
        assert.equal(r.tenant, tenant.id);
        assert.equal(r.role, contract.role);
        assert.equal(r.purpose, contract.purpose);
        assert.equal(r.legal_basis, contract.legalBasis);
        assert.equal(r.time, Date.parse(s.ts), 'stamped with the device time');
        assert.ok(r.arrival_time === undefined || r.arrival_time === null, 'device time was plausible');
        const payload = s.payload as unknown as Record<string, unknown>;
        for (const field of ['energy_kwh', 'rsrp_dbm', 'co2_ppm', 'bytes_up', 'humidity_pct']) {
          if (field in payload) assert.equal(r[field], payload[field], field);
        }
        if (kind === 'sim_unit') assert.match(String(r.country), /^[A-Z]{2}$/);
      }
    }
  }
});

// A reading written twice would overwrite itself in InfluxDB (same series,
// same device time) and still read back as one row: the store writer's count
// of points InfluxDB accepted is what shows a second write.
test('InfluxDB accepted exactly as many points as were published: none written twice', async () => {
  const written = metricValue(await scrape(stack.apiUrl), 'skjold_store_points_written_total');
  assert.equal(written, report.sent.length);
});

test('the other tenant’s database holds none of a tenant’s devices', async () => {
  const a = await rows(stack.skjold.store, 'nordvarme', 'SELECT * FROM /.*/');
  const b = await rows(stack.skjold.store, 'fjordnet', 'SELECT * FROM /.*/');
  assert.ok(a.every((r) => r.tenant === 'nordvarme'));
  assert.ok(b.every((r) => r.tenant === 'fjordnet'));
  const devicesA = new Set(a.map((r) => r.device));
  assert.ok(b.every((r) => !devicesA.has(r.device)));
});
