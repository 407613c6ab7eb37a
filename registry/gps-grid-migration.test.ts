/**
 * Migration 009: contracts that kept GPS at decimals of a degree keep it on a
 * grid whose cells are as tall as the old rounding step; contracts that kept
 * none still keep none. Real PGlite, migrated as an older Skjold left it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrate } from './migrate.ts';
import { createPgliteClient } from './pglite-client.ts';
import { createRegistry } from './registry.ts';

test('migration 009 turns gps_decimals into a grid cell size; no GPS stays no GPS', async (t) => {
  const sql = await createPgliteClient();
  t.after(() => sql.close());
  await migrate(sql, { upTo: 8 });
  await sql.query(`INSERT INTO tenants (id, name) VALUES ('gammel', 'Gammel')`);
  for (const [id, decimals] of [
    ['none', null],
    ['d0', 0],
    ['d1', 1],
    ['d2', 2],
    ['d3', 3],
  ] as const) {
    await sql.query(
      `INSERT INTO contracts (tenant_id, id, role, purpose, legal_basis, starts_on, jurisdiction, gps_decimals)
       VALUES ('gammel', $1, 'processor', 'p', 'contract', '2020-01-01', 'DK', $2)`,
      [id, decimals],
    );
  }
  assert.deepEqual(await migrate(sql, { upTo: 9 }), [9]);
  const contracts = await createRegistry(sql).listContracts('gammel');
  assert.deepEqual(Object.fromEntries(contracts.map((c) => [c.id, c.gpsGridMeters])), {
    none: null,
    d0: 111_320,
    d1: 11_132,
    d2: 1_113,
    d3: 111,
  });
  await assert.rejects(
    sql.query(`UPDATE contracts SET gps_grid_m = 99 WHERE id = 'd3'`),
    'a cell under 100 m is refused by the registry itself',
  );
});
