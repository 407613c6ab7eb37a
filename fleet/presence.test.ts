/**
 * Last-seen times in the registry and the fleet's view of its devices, on
 * both registry backends: PGlite (embedded) and PostgreSQL (several instances
 * sharing one registry).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../lib/clock.ts';
import { migrate } from '../registry/migrate.ts';
import { createPostgresClient } from '../registry/postgres-client.ts';
import { createRegistry } from '../registry/registry.ts';
import type { SqlClient } from '../registry/sql.ts';
import { startPostgres } from '../test/harness/postgres.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { fleetDevices } from './devices-view.ts';
import { createPresence, PERSIST_EVERY_MS } from './presence.ts';

const T0 = '2026-11-02T08:00:00.000Z';

function suite(name: string, open: () => Promise<SqlClient>) {
  describe(`fleet presence: ${name}`, () => {
    let sql: SqlClient;
    const ref = (id: string) => ({
      tenantId: 'varme',
      deviceId: id,
      kind: 'heat_meter' as const,
      devicePseudonym: `v2.${id}`,
    });
    const stored = async (id: string) =>
      (
        await sql.query<{ at: Date | null }>('SELECT last_seen_at AS at FROM devices WHERE id = $1', [id])
      )[0]?.at?.toISOString() ?? null;

    before(async () => {
      sql = await open();
      await migrate(sql);
      const registry = createRegistry(sql);
      await registry.createTenant({ id: 'varme', name: 'Varme' });
      await registry.createContract({
        tenantId: 'varme',
        id: 'c1',
        role: 'processor',
        purpose: 'billing',
        legalBasis: 'contract',
        startsOn: '2025-01-01',
        endsOn: null,
        jurisdiction: 'DK',
        gpsGridMeters: null,
      });
      for (const id of ['d1', 'd2', 'd3']) {
        await registry.createDevice({
          id,
          tenantId: 'varme',
          contractId: 'c1',
          kind: 'heat_meter',
          loginHash: `h-${id}`,
          loginType: 'wmbus',
          credentialHash: 'scrypt$x',
          pseudonyms: [
            { keyVersion: 1, idType: 'wmbus', pseudonym: `v1.${id}` },
            { keyVersion: 2, idType: 'wmbus', pseudonym: `v2.${id}` },
          ],
        });
      }
    });
    after(() => sql.close());

    test('a device is written when first seen, then at most once a minute', async () => {
      const clock = manualClock(T0);
      const presence = createPresence({ sql, clock });
      presence.seen(ref('d1'));
      assert.equal(await presence.persist(), 1);
      assert.equal(await stored('d1'), T0);

      clock.set(new Date(Date.parse(T0) + 30_000));
      presence.seen(ref('d1'));
      assert.equal(await presence.persist(), 0, 'not again within the minute');
      assert.equal(await stored('d1'), T0);

      clock.set(new Date(Date.parse(T0) + PERSIST_EVERY_MS));
      assert.equal(await presence.persist(), 1);
      assert.equal(await stored('d1'), new Date(Date.parse(T0) + 30_000).toISOString());
      assert.equal(await presence.persist({ all: true }), 0, 'nothing unwritten is left');
    });

    test('an instance that saw a device earlier never moves another instance’s later time back', async () => {
      const late = createPresence({ sql, clock: manualClock('2026-11-02T09:00:00Z') });
      const early = createPresence({ sql, clock: manualClock('2026-11-02T08:30:00Z') });
      late.seen(ref('d2'));
      early.seen(ref('d2'));
      await late.persist();
      await early.persist();
      assert.equal(await stored('d2'), '2026-11-02T09:00:00.000Z');
    });

    test('connections are counted per device, so a takeover’s second connection does not end it', () => {
      const presence = createPresence({ sql, clock: manualClock(T0) });
      presence.connected(ref('d3'));
      presence.connected(ref('d3'));
      presence.disconnected(ref('d3'));
      assert.equal(presence.isConnected('d3'), true);
      presence.disconnected(ref('d3'));
      assert.equal(presence.isConnected('d3'), false);
    });

    test('the fleet view names each device by its newest pseudonym and flags restricted ones', async () => {
      await sql.query("INSERT INTO subjects (tenant_id, ref) VALUES ('varme', 'flat-1')");
      await sql.query(
        "INSERT INTO subject_devices (tenant_id, subject_ref, device_id) VALUES ('varme', 'flat-1', 'd3')",
      );
      await sql.query(
        "INSERT INTO subject_restrictions (tenant_id, subject_ref, since) VALUES ('varme', 'flat-1', now())",
      );
      await sql.query("UPDATE devices SET disabled_at = now() WHERE id = 'd2'");
      const view = await fleetDevices(sql, 'varme');
      assert.deepEqual(
        view.map((d) => [d.deviceId, d.pseudonym, d.restricted, d.lastSeenAt?.toISOString() ?? null]),
        [
          ['d1', 'v2.d1', false, new Date(Date.parse(T0) + 30_000).toISOString()],
          ['d3', 'v2.d3', true, null],
        ],
        'd2 is disabled and left out',
      );
      assert.deepEqual(await fleetDevices(sql, 'no-such-tenant'), []);
    });
  });
}

suite('PGlite', freshPglite);

let stopPostgres: (() => Promise<void>) | undefined;
after(() => stopPostgres?.());
suite('PostgreSQL', async () => {
  const pg = await startPostgres();
  stopPostgres = pg.stop;
  return createPostgresClient(pg.url);
});
