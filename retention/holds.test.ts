/**
 * Legal holds, retention policies and retention plan/run through the
 * operator API and the CLI of a running Skjold (real InfluxDB; the registry on
 * PGlite and on PostgreSQL).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiError } from '../cli/api-client.ts';
import type { Point } from '../lib/point.ts';
import { createSealer } from '../requests/sealing.ts';
import { runCli } from '../test/harness/cli.ts';
import { forEachRegistry } from '../test/harness/registries.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import type { LegalHold } from './holds.ts';
import type { RetentionReport } from './retention.ts';

forEachRegistry((registry) => {
  const TENANT = 'holdvarme';
  let stack: Stack;
  const meters: Array<{ id: string; pseudonym: string }> = [];

  const skjold = (...args: string[]) => runCli(stack, ...args);

  async function points(where: string): Promise<number> {
    const [r] = await stack.skjold.store.query(
      TENANT,
      `SELECT count(energy_kwh) FROM heat_meter WHERE ${where}`,
    );
    return Number(r?.series?.[0]?.values[0]?.[1] ?? 0);
  }

  async function auditActions(): Promise<Array<{ action: string; target: string; detail: string }>> {
    return stack.skjold.registry.sql.query(
      'SELECT action, target, detail FROM audit_log WHERE tenant_id = $1 ORDER BY seq',
      [TENANT],
    );
  }

  before(async () => {
    stack = await startStack({}, { registry });
    await stack.api.createTenant({ id: TENANT, name: 'Holdvarme' });
    // Ended long ago: due today under the default policy.
    await stack.api.createContract(TENANT, {
      id: 'heat',
      role: 'processor',
      purpose: 'district heating billing',
      legalBasis: 'contract',
      startsOn: '2020-01-01',
      endsOn: '2020-12-31',
      jurisdiction: 'DK',
    });
    for (const wmbus of ['KAM10000001', 'KAM10000002']) {
      const d = await stack.api.addDevice(TENANT, {
        kind: 'heat_meter',
        contractId: 'heat',
        identifiers: { wmbus },
        area: 'Vestergade 1-9',
      } as Parameters<typeof stack.api.addDevice>[1]);
      meters.push(d);
    }
    const batch: Point[] = [];
    for (const m of meters) {
      for (let i = 0; i < 96 * 3; i++) {
        batch.push({
          measurement: 'heat_meter',
          tags: { tenant: TENANT, device: m.pseudonym, contract: 'heat' },
          fields: { energy_kwh: 100 + i, volume_m3: 1 + i / 100, flow_temp_c: 70 },
          timestampMs: Date.UTC(2020, 11, 30) + i * 15 * 60_000,
        });
      }
    }
    await stack.skjold.store.write(TENANT, batch);
  });
  after(() => stack.stop());

  test('devices carry an area from the API and from a CSV import', async () => {
    const imported = await stack.api.importDevices(
      TENANT,
      'kind,contract,serial,area\nbuilding_sensor,heat,BS-HOLD-0001,Postnr 8000\nbuilding_sensor,heat,BS-HOLD-0002,\n',
    );
    assert.equal(imported.imported, 2);
    const devices = (await stack.api.listDevices(TENANT)) as Array<{ kind: string; area: string | null }>;
    assert.deepEqual(devices.map((d) => d.area).sort(), [
      'Postnr 8000',
      'Vestergade 1-9',
      'Vestergade 1-9',
      null,
    ]);
  });

  test('a contract has the default policy until the operator sets one', async () => {
    const shown = await skjold('retention', 'policy', '--tenant', TENANT, '--contract', 'heat');
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(JSON.parse(shown.stdout).policy.graceMonths, 12);
    assert.equal(JSON.parse(shown.stdout).policy.telemetryAction, 'delete');

    const set = await skjold(
      'retention',
      'policy',
      '--tenant',
      TENANT,
      '--contract',
      'heat',
      '--k',
      '7',
      '--grace-months',
      '6',
    );
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(
      [JSON.parse(set.stdout).policy.anonymiseK, JSON.parse(set.stdout).policy.graceMonths],
      [7, 6],
    );
    const bad = await skjold(
      'retention',
      'policy',
      '--tenant',
      TENANT,
      '--contract',
      'heat',
      '--telemetry',
      'shred',
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /SKJOLD_ERR_VALIDATION/);
    const small = await skjold('retention', 'policy', '--tenant', TENANT, '--contract', 'heat', '--k', '4');
    assert.equal(small.code, 1);
    assert.match(small.stderr, /SKJOLD_ERR_VALIDATION.*anonymiseK must be at least 5/);
    const policyOf = (r: { stdout: string }) => JSON.parse(r.stdout).policy;
    const noisy = await skjold(
      ...['retention', 'policy', '--tenant', TENANT, '--contract', 'heat', '--noise-epsilon', '1'],
    );
    assert.equal(noisy.code, 0, noisy.stderr);
    assert.deepEqual([policyOf(noisy).anonymiseNoise, policyOf(noisy).anonymiseK], [{ epsilon: 1 }, 7]);
    const quiet = await skjold(
      ...['retention', 'policy', '--tenant', TENANT, '--contract', 'heat', '--noise-epsilon', 'off'],
    );
    assert.equal(policyOf(quiet).anonymiseNoise, null);
    await assert.rejects(
      stack.api.call('PUT', `/v1/tenants/${TENANT}/contracts/nope/retention`, { anonymiseK: 5 }),
      (err: unknown) => err instanceof ApiError && err.code === 'SKJOLD_ERR_NOT_FOUND',
    );
    assert.ok((await auditActions()).some((e) => e.action === 'retention.policy' && e.target === 'heat'));
  });

  test('a legal hold added from the CLI is named in the plan and obeyed by the run', async () => {
    const [held, free] = meters;
    assert.ok(held && free);
    const added = await skjold(
      ...['holds', 'add', '--tenant', TENANT, '--scope', 'device', '--target', held.id],
      ...['--reason', 'dispute over the 2020 heat bill'],
    );
    assert.equal(added.code, 0, added.stderr);
    const hold = JSON.parse(added.stdout) as LegalHold;
    assert.equal(hold.scope, 'device');

    const listed = JSON.parse((await skjold('holds', 'list', '--tenant', TENANT)).stdout) as LegalHold[];
    assert.deepEqual(
      listed.map((h) => h.id),
      [hold.id],
    );
    const created = (await auditActions()).find((e) => e.action === 'hold.create');
    assert.equal(created?.target, hold.id);
    assert.doesNotMatch(created?.detail ?? '', /dispute/, 'the reason stays out of the audit log');

    const plan = await skjold('retention', 'plan', '--tenant', TENANT);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /heat \(processor, DK\) ended 2020-12-31: due/);
    assert.match(plan.stdout, /telemetry to delete: .*heat_meter: 1 device\(s\), 1 series, 288 points/);
    assert.match(plan.stdout, new RegExp(`${hold.id} \\(device: dispute over the 2020 heat bill`));
    assert.match(plan.stdout, /billing readings kept until 2026-01-01/);
    assert.equal(await points('time > 0'), 576, 'a plan changes nothing');

    const { receipts } = await stack.api.call<{ receipts: RetentionReport[] }>(
      'POST',
      `/v1/retention/run?tenant=${TENANT}`,
      {},
    );
    const heat = receipts[0]?.contracts[0];
    assert.deepEqual(
      heat?.held.map((h) => h.holds.map((x) => x.id)),
      [[hold.id]],
    );
    assert.equal(await points(`device = '${held.pseudonym}'`), 288);
    assert.equal(await points(`device = '${free.pseudonym}'`), 0);

    const released = await skjold('holds', 'release', '--tenant', TENANT, '--id', hold.id);
    assert.equal(released.code, 0, released.stderr);
    assert.ok(JSON.parse(released.stdout).releasedAt);
    assert.ok((await auditActions()).some((e) => e.action === 'hold.release' && e.target === hold.id));
    const again = await skjold('holds', 'release', '--tenant', TENANT, '--id', hold.id);
    assert.match(again.stderr, /SKJOLD_ERR_NOT_FOUND/);

    const receipt = await skjold('retention', 'run', '--tenant', TENANT);
    assert.equal(receipt.code, 0, receipt.stderr);
    assert.match(receipt.stdout, /Retention receipt run-/);
    assert.equal(await points('time > 0'), 0);
  });

  test('holds and plans refuse what does not exist', async () => {
    await assert.rejects(
      stack.api.call('POST', `/v1/tenants/${TENANT}/holds`, {
        scope: 'device',
        target: 'no-such-device',
        reason: 'x',
      }),
      (err: unknown) => err instanceof ApiError && err.code === 'SKJOLD_ERR_NOT_FOUND',
    );
    await assert.rejects(
      stack.api.call('POST', `/v1/tenants/${TENANT}/holds`, { scope: 'subject', reason: 'x' }),
      (err: unknown) => err instanceof ApiError && err.code === 'SKJOLD_ERR_VALIDATION',
    );
    await assert.rejects(
      stack.api.call('GET', '/v1/retention/plan?tenant=nobody-here'),
      (err: unknown) => err instanceof ApiError && err.status === 404,
    );
    // A subject hold covers every device linked to the subject.
    const meter = meters[0];
    assert.ok(meter);
    await stack.api.linkSubject(TENANT, 'customer-4711', meter.id);
    const subjectHold = await stack.api.call<LegalHold>('POST', `/v1/tenants/${TENANT}/holds`, {
      scope: 'subject',
      target: 'customer-4711',
      reason: 'complaint under review',
    });
    const subjectPlan = await stack.api.call<{ plans: RetentionReport[] }>(
      'GET',
      `/v1/retention/plan?tenant=${TENANT}`,
    );
    assert.deepEqual(
      subjectPlan.plans[0]?.contracts[0]?.held.map((h) => [h.deviceId, h.holds.map((x) => x.id)]),
      [[meter.id, [subjectHold.id]]],
    );
    const audited = (await auditActions()).find(
      (e) => e.action === 'hold.create' && e.target === subjectHold.id,
    );
    assert.doesNotMatch(
      audited?.detail ?? '',
      /customer-4711/,
      "the subject's reference stays out of the audit log",
    );
    // Art. 25(1), 32(1)(a): the registry holds the subject as its pseudonym and the reason sealed.
    const stored = JSON.stringify(await stack.skjold.registry.sql.query('SELECT * FROM legal_holds'));
    assert.ok(stored.includes(subjectHold.id), 'the raw read sees the hold');
    for (const clear of ['customer-4711', 'complaint under review', 'dispute over the 2020 heat bill'])
      assert.ok(!stored.includes(clear), `${clear} is not stored in clear`);
    const [row] = await stack.skjold.registry.sql.query<{ target: string }>(
      'SELECT target FROM legal_holds WHERE id = $1',
      [subjectHold.id],
    );
    assert.equal(row?.target, createSealer(stack.skjold.keyStore).subjectPseudonym(TENANT, 'customer-4711'));
    // The operator is shown what it gave.
    assert.equal(subjectHold.target, 'customer-4711');
    assert.equal(subjectHold.reason, 'complaint under review');
    const listed = await stack.api.call<LegalHold[]>('GET', `/v1/tenants/${TENANT}/holds`);
    assert.deepEqual(
      listed.filter((h) => h.id === subjectHold.id).map((h) => [h.target, h.reason]),
      [['customer-4711', 'complaint under review']],
    );

    const tenantHold = await stack.api.call<LegalHold>('POST', `/v1/tenants/${TENANT}/holds`, {
      scope: 'tenant',
      reason: 'authority request',
      until: '2099-12-31',
    });
    const { plans } = await stack.api.call<{ plans: RetentionReport[] }>(
      'GET',
      `/v1/retention/plan?tenant=${TENANT}`,
    );
    assert.equal(plans[0]?.contracts[0]?.status, 'held');
    assert.deepEqual(
      plans[0]?.contracts[0]?.tenantHolds.map((h) => h.id),
      [tenantHold.id],
    );
  });

  test('ending a contract from the CLI starts its retention clock', async () => {
    await stack.api.createContract(TENANT, {
      id: 'rooms',
      role: 'controller',
      purpose: 'indoor climate statistics',
      legalBasis: 'legitimate_interests',
      startsOn: '2021-01-01',
      endsOn: null,
      jurisdiction: 'SE',
    });
    const status = async () => {
      const { plans } = await stack.api.call<{ plans: RetentionReport[] }>(
        'GET',
        `/v1/retention/plan?tenant=${TENANT}`,
      );
      return plans[0]?.contracts.find((c) => c.contractId === 'rooms');
    };
    assert.equal((await status())?.status, 'running');
    const ended = await skjold('contracts', 'end', '--tenant', TENANT, '--id', 'rooms', '--on', '2021-06-30');
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal(JSON.parse(ended.stdout).endsOn, '2021-06-30');
    assert.equal((await status())?.status, 'held', 'due, but the tenant hold from before stops it');
    assert.equal((await status())?.dueOn, '2022-07-01');
    assert.ok((await auditActions()).some((e) => e.action === 'contract.end' && e.target === 'rooms'));

    const early = await skjold('contracts', 'end', '--tenant', TENANT, '--id', 'rooms', '--on', '2020-06-30');
    assert.match(early.stderr, /SKJOLD_ERR_VALIDATION/);
    const unknown = await skjold(
      'contracts',
      'end',
      '--tenant',
      TENANT,
      '--id',
      'nope',
      '--on',
      '2021-06-30',
    );
    assert.match(unknown.stderr, /SKJOLD_ERR_NOT_FOUND/);
    const reopened = await skjold('contracts', 'end', '--tenant', TENANT, '--id', 'rooms', '--on', 'none');
    assert.equal(JSON.parse(reopened.stdout).endsOn, null);
  });
});
