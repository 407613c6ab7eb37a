import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import { migrate } from './migrate.ts';
import { createRegistry, type Registry } from './registry.ts';
import type { SqlClient } from './sql.ts';

const contract = (tenantId: string, id: string) => ({
  tenantId,
  id,
  role: 'processor' as const,
  purpose: 'district heating billing',
  legalBasis: 'contract' as const,
  startsOn: '2025-01-01',
  endsOn: '2026-12-31',
  jurisdiction: 'DK' as const,
  gpsGridMeters: null,
});

const device = (tenantId: string, id: string, loginHash: string) => ({
  id,
  tenantId,
  contractId: 'c1',
  kind: 'heat_meter' as const,
  loginHash,
  loginType: 'wmbus' as const,
  credentialHash: 'scrypt$x',
  pseudonyms: [{ keyVersion: 1, idType: 'wmbus', pseudonym: `v1.${id}` }],
});

/**
 * What every registry backend must do. PGlite and PostgreSQL both run it
 * (registry.test.ts), so a second backend is proven by the same tests.
 */
export function runRegistryContract(name: string, open: () => Promise<SqlClient>): void {
  describe(`registry contract: ${name}`, () => {
    let sql: SqlClient;
    let registry: Registry;

    before(async () => {
      sql = await open();
      await migrate(sql);
      registry = createRegistry(sql);
      await registry.createTenant({ id: 'acme', name: 'Acme Varme' });
      await registry.createTenant({ id: 'other', name: 'Other AB' });
      await registry.createContract(contract('acme', 'c1'));
      await registry.createContract(contract('other', 'c1'));
    });
    after(() => sql.close());

    test('migrations are recorded and re-running them is a no-op', async () => {
      assert.deepEqual(await migrate(sql), []);
      const rows = await sql.query<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      assert.ok(rows.length >= 1);
    });

    test('a duplicate tenant is a conflict, a bad tenant id a validation error', async () => {
      await assert.rejects(registry.createTenant({ id: 'acme', name: 'again' }), (e) =>
        isSkjoldError(e, 'SKJOLD_ERR_CONFLICT'),
      );
      await assert.rejects(registry.createTenant({ id: 'Bad Id', name: 'x' }), (e) =>
        isSkjoldError(e, 'SKJOLD_ERR_VALIDATION'),
      );
      assert.deepEqual(
        (await registry.listTenants()).map((t) => t.id),
        ['acme', 'other'],
      );
    });

    test('contracts keep role, purpose, legal basis, dates and jurisdiction', async () => {
      assert.deepEqual(await registry.getContract('acme', 'c1'), contract('acme', 'c1'));
      await assert.rejects(
        registry.createContract({ ...contract('acme', 'c2'), role: 'owner' as 'controller' }),
        (e) => isSkjoldError(e, 'SKJOLD_ERR_VALIDATION'),
      );
      await assert.rejects(
        registry.createContract({ ...contract('acme', 'c3'), endsOn: '2024-01-01' }),
        (e) => isSkjoldError(e, 'SKJOLD_ERR_VALIDATION'),
      );
      await assert.rejects(registry.createContract(contract('nobody', 'c1')), (e) =>
        isSkjoldError(e, 'SKJOLD_ERR_NOT_FOUND'),
      );
    });

    test('devices are found by login hash with their contract; a login is registered once', async () => {
      await registry.createDevice(device('acme', 'd1', 'hash-1'));
      const found = await registry.findByLoginHash('hash-1');
      assert.equal(found?.device.id, 'd1');
      assert.equal(found?.device.disabled, false);
      assert.equal(found?.contract.role, 'processor');
      assert.equal(await registry.findByLoginHash('hash-unknown'), undefined);
      await assert.rejects(registry.createDevice(device('other', 'd2', 'hash-1')), (e) =>
        isSkjoldError(e, 'SKJOLD_ERR_CONFLICT'),
      );
      // The failed registration left nothing behind (one transaction).
      assert.equal(await registry.getDevice('other', 'd2'), undefined);
    });

    test('pseudonyms of several key versions resolve to one device, only within its tenant', async () => {
      await registry.addPseudonyms('d1', [
        { keyVersion: 2, idType: 'wmbus', pseudonym: 'v2.d1' },
        { keyVersion: 2, idType: 'wmbus', pseudonym: 'v2.d1' },
      ]);
      assert.deepEqual(
        (await registry.pseudonymsOf('d1')).map((p) => p.pseudonym),
        ['v1.d1', 'v2.d1'],
      );
      assert.deepEqual(
        (await registry.findByPseudonyms('acme', ['v1.d1', 'v2.d1'])).map((d) => d.id),
        ['d1'],
      );
      assert.deepEqual(await registry.findByPseudonyms('other', ['v1.d1']), []);
    });

    test('subjects link only to their own tenant’s devices', async () => {
      await registry.createSubject('acme', 'customer-42');
      await registry.linkSubjectDevice('acme', 'customer-42', 'd1');
      assert.deepEqual(
        (await registry.subjectDevices('acme', 'customer-42')).map((d) => d.id),
        ['d1'],
      );
      await registry.createSubject('other', 'customer-42');
      await registry.linkSubjectDevice('other', 'customer-42', 'd1');
      assert.deepEqual(await registry.subjectDevices('other', 'customer-42'), []);
    });

    test('a device has one occupant at a time: overlapping periods are refused, also when linked at once', async () => {
      const day = (d: string) => new Date(`${d}T00:00:00Z`);
      // customer-42's link above is open at both ends; a move-out closes it.
      const closed = await registry.closeSubjectPeriod('acme', 'customer-42', 'd1', day('2026-03-01'));
      assert.deepEqual(closed, { deviceId: 'd1', from: null, to: '2026-03-01T00:00:00.000Z' });
      for (const ref of ['customer-43', 'customer-44', 'customer-45'])
        await registry.createSubject('acme', ref);
      await registry.linkSubjectDevice('acme', 'customer-43', 'd1', {
        from: day('2026-03-01'),
        to: day('2026-06-01'),
      });
      await assert.rejects(
        registry.linkSubjectDevice(
          'acme',
          'customer-44',
          'd1',
          { from: day('2026-02-01'), to: day('2026-04-01') },
          (r) => `pseudonym-of-${r}`,
        ),
        (err: Error & { code?: string }) =>
          err.code === 'SKJOLD_ERR_CONFLICT' &&
          /pseudonym-of-customer-4[23]/.test(err.message) &&
          !/customer-4[23] /.test(err.message),
      );
      // Linking the same period again is a no-op.
      await registry.linkSubjectDevice('acme', 'customer-43', 'd1', {
        from: day('2026-03-01'),
        to: day('2026-06-01'),
      });
      const results = await Promise.allSettled(
        ['customer-44', 'customer-45'].map((ref) =>
          registry.linkSubjectDevice('acme', ref, 'd1', { from: day('2026-06-01'), to: null }),
        ),
      );
      assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
      const periods = await registry.devicePeriods('acme', 'd1');
      assert.deepEqual(
        periods.map((p) => [p.from, p.to]),
        [
          [null, '2026-03-01T00:00:00.000Z'],
          ['2026-03-01T00:00:00.000Z', '2026-06-01T00:00:00.000Z'],
          ['2026-06-01T00:00:00.000Z', null],
        ],
      );
    });
  });
}
