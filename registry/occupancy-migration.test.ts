/**
 * The occupancy-period migration on a registry that already holds links:
 * each existing link becomes a period open at both ends (the device's whole
 * history, as before), and from then on one occupant at a time holds.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrate } from './migrate.ts';
import { createPgliteClient } from './pglite-client.ts';
import { createRegistry } from './registry.ts';

const DIR = join(import.meta.dirname, 'migrations');
const PERIODS = '012-occupancy-periods.sql';

test('an existing link becomes an open-ended period from the beginning of time', async () => {
  const sql = await createPgliteClient();
  try {
    // The registry as it stood before periods: every migration before this one.
    await sql.exec(`CREATE TABLE schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const file of (await readdir(DIR)).filter((f) => f.endsWith('.sql') && f < PERIODS).sort()) {
      await sql.exec(await readFile(join(DIR, file), 'utf8'));
      await sql.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        Number(file.slice(0, 3)),
        file,
      ]);
    }
    await sql.exec(`
      INSERT INTO tenants (id, name) VALUES ('acme', 'Acme');
      INSERT INTO contracts (tenant_id, id, role, purpose, legal_basis, starts_on, jurisdiction)
        VALUES ('acme', 'c1', 'processor', 'billing', 'contract', '2025-01-01', 'DK');
      INSERT INTO devices (id, tenant_id, contract_id, kind, login_hash, login_type, credential_hash)
        VALUES ('m1', 'acme', 'c1', 'heat_meter', 'h1', 'wmbus', 'x');
      INSERT INTO subjects (tenant_id, ref) VALUES ('acme', 'kunde-1'), ('acme', 'kunde-2');
      INSERT INTO subject_devices (tenant_id, subject_ref, device_id) VALUES ('acme', 'kunde-1', 'm1');`);

    assert.ok((await migrate(sql)).includes(Number(PERIODS.slice(0, 3))));
    const registry = createRegistry(sql);
    assert.deepEqual(await registry.subjectPeriods('acme', 'kunde-1'), [
      { deviceId: 'm1', from: null, to: null },
    ]);
    assert.deepEqual(
      (await registry.subjectDevices('acme', 'kunde-1')).map((d) => d.id),
      ['m1'],
    );
    // Still the whole history: a second occupant is refused until the first moves out.
    await assert.rejects(
      registry.linkSubjectDevice('acme', 'kunde-2', 'm1', {
        from: new Date('2026-05-01T00:00:00Z'),
        to: null,
      }),
      { code: 'SKJOLD_ERR_CONFLICT' },
    );
    await registry.closeSubjectPeriod('acme', 'kunde-1', 'm1', new Date('2026-05-01T00:00:00Z'));
    await registry.linkSubjectDevice('acme', 'kunde-2', 'm1', {
      from: new Date('2026-05-01T00:00:00Z'),
      to: null,
    });
    assert.deepEqual(
      (await registry.devicePeriods('acme', 'm1')).map((p) => [p.subjectRef, p.from, p.to]),
      [
        ['kunde-1', null, '2026-05-01T00:00:00.000Z'],
        ['kunde-2', '2026-05-01T00:00:00.000Z', null],
      ],
    );
  } finally {
    await sql.close();
  }
});
