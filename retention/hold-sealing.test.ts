/**
 * Legal holds written before their text was sealed: migration 008 converts
 * them (subject → keyed pseudonym and sealed reference, reason → sealed) in
 * the migration's transaction, refuses to run without the tenants' keys, and
 * the converted holds still cover what they covered, across a key rotation.
 * Real PGlite, migrated as an older Skjold left it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isSkjoldError } from '../lib/errors.ts';
import { openKeyStore } from '../pseudonymizer/keystore.ts';
import { migrate } from '../registry/migrate.ts';
import { createPgliteClient } from '../registry/pglite-client.ts';
import { createRegistry } from '../registry/registry.ts';
import { createSealer } from '../requests/sealing.ts';
import { createLegalHolds } from './holds.ts';

const T = 'gammelvarme';
const REF = 'kunde-4711';
const REASONS = {
  subject: 'Klage fra Jens Hansen over varmeregningen',
  device: 'Tvist om målerudskiftning hos Hansen',
  tenant: 'Anmodning fra Datatilsynet',
};
const dir = await mkdtemp(join(tmpdir(), 'skjold-hold-sealing-'));
after(() => rm(dir, { recursive: true, force: true }));

test('migration 008 seals the holds stored in clear; they keep covering their subject, device and tenant', async (t) => {
  const sql = await createPgliteClient();
  t.after(() => sql.close());
  await migrate(sql, { upTo: 7 });
  const keys = await openKeyStore({ file: join(dir, 'keys.json') });
  await keys.ensureTenant(T);
  const sealer = createSealer(keys);
  const registry = createRegistry(sql);
  await registry.createTenant({ id: T, name: 'Gammelvarme' });
  // In SQL: the registry's own insert writes columns of later migrations.
  await sql.query(
    `INSERT INTO contracts (tenant_id, id, role, purpose, legal_basis, starts_on, jurisdiction)
     VALUES ($1, 'heat', 'processor', 'billing', 'contract', '2020-01-01', 'DK')`,
    [T],
  );
  const device = async () => {
    const id = randomUUID();
    await registry.createDevice({
      id,
      tenantId: T,
      contractId: 'heat',
      kind: 'heat_meter',
      loginHash: randomUUID(),
      loginType: 'wmbus',
      credentialHash: 'x',
      pseudonyms: [{ keyVersion: 1, idType: 'wmbus', pseudonym: `v1.${randomUUID()}` }],
    });
    return id;
  };
  const [linked, held, free] = [await device(), await device(), await device()];
  await registry.createSubject(T, REF);
  // As the registry stood then: a link without an occupancy period (migration 012 adds those).
  await sql.query('INSERT INTO subject_devices (tenant_id, subject_ref, device_id) VALUES ($1, $2, $3)', [
    T,
    REF,
    linked,
  ]);
  // The rows as migration 003 stored them, before 008 sealed them.
  await sql.query(
    `INSERT INTO legal_holds (id, tenant_id, scope, target, reason) VALUES
       ('hold-old-subject', $1, 'subject', $2, $3), ('hold-old-device', $1, 'device', $4, $5),
       ('hold-old-tenant', $1, 'tenant', NULL, $6)`,
    [T, REF, REASONS.subject, held, REASONS.device, REASONS.tenant],
  );
  const raw = async () => JSON.stringify(await sql.query('SELECT * FROM legal_holds'));

  await assert.rejects(migrate(sql), (err: unknown) => isSkjoldError(err, 'SKJOLD_ERR_MIGRATION'));
  assert.ok((await raw()).includes(REF), 'without the keys nothing is converted');
  assert.deepEqual(await migrate(sql, { sealer, upTo: 8 }), [8]);

  const stored = await raw();
  assert.ok(stored.includes('hold-old-subject'));
  for (const clear of [REF, ...Object.values(REASONS)]) assert.ok(!stored.includes(clear), `${clear} sealed`);
  await assert.rejects(
    sql.query(
      `INSERT INTO legal_holds (id, tenant_id, scope, reason) VALUES ('hold-new', $1, 'tenant', 'clear')`,
      [T],
    ),
    'a reason in clear is refused from now on',
  );

  await keys.rotate(T); // made under version 1, the holds must still match under version 2
  const holds = createLegalHolds(sql, sealer);
  assert.deepEqual(
    (await holds.list(T)).map((h) => [h.id, h.target, h.reason]).sort(),
    [
      ['hold-old-device', held, REASONS.device],
      ['hold-old-subject', REF, REASONS.subject],
      ['hold-old-tenant', null, REASONS.tenant],
    ],
    'the operator is shown them in clear',
  );
  const now = await holds.held(T, new Date());
  assert.deepEqual(
    now.holdsFor(linked).map((h) => h.id),
    ['hold-old-tenant', 'hold-old-subject'],
    "the subject hold covers the subject's device",
  );
  assert.deepEqual(
    now.holdsFor(held).map((h) => h.id),
    ['hold-old-tenant', 'hold-old-device'],
  );
  assert.ok(!now.byDevice.has(free));
  assert.deepEqual(
    sealer
      .subjectPseudonyms(T, REF)
      .flatMap((p) => now.bySubject.get(p) ?? [])
      .map((h) => h.id),
    ['hold-old-subject'],
    'erasure finds the subject hold from the subject, under any key version',
  );
});

test('a subject hold made after a key rotation matches through the new version’s pseudonym', async (t) => {
  const sql = await createPgliteClient();
  t.after(() => sql.close());
  const keys = await openKeyStore({ file: join(dir, 'keys-2.json') });
  await keys.ensureTenant(T);
  await keys.rotate(T);
  const sealer = createSealer(keys);
  await migrate(sql, { sealer });
  const registry = createRegistry(sql);
  await registry.createTenant({ id: T, name: 'Gammelvarme' });
  await registry.createSubject(T, REF);
  await registry.createSubject(T, 'kunde-other');
  const holds = createLegalHolds(sql, sealer);
  const hold = await holds.create({ tenantId: T, scope: 'subject', target: REF, reason: REASONS.subject });
  const [row] = await sql.query<{ target: string }>('SELECT target FROM legal_holds WHERE id = $1', [
    hold.id,
  ]);
  assert.equal(row?.target, sealer.subjectPseudonym(T, REF, 2));
  const now = await holds.held(T, new Date());
  assert.deepEqual([...now.bySubject.keys()], [sealer.subjectPseudonym(T, REF, 2)]);
});
