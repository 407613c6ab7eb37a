/**
 * The objection gate against a real registry (PGlite): which devices' points
 * are blocked, for which purpose, answered from memory; re-read on demand
 * and on a timer (changes made by another instance).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../lib/log.ts';
import { waitUntil } from '../lib/process/server-process.ts';
import type { SqlClient } from '../registry/sql.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { createObjectionGate, type ObjectionGate, withinLinkPeriod } from './objection-gate.ts';

const T = 'varmevaerk';
const logger = createLogger('silent');
let sql: SqlClient;
let queries = 0;
const gates: ObjectionGate[] = [];
const device = (deviceId: string, purpose = 'billing') => ({ deviceId, tags: { purpose } });

before(async () => {
  const real = await freshPglite();
  // Counts the registry queries the gates make.
  sql = {
    ...real,
    query: (text, params) => {
      if (text.includes('subject_objections')) queries++;
      return real.query(text, params);
    },
  } as SqlClient;
  await sql.query(`INSERT INTO tenants (id, name) VALUES ($1, 'Værket')`, [T]);
  for (const [id, purpose] of [
    ['heat', 'billing'],
    ['stats', 'statistics'],
  ]) {
    await sql.query(
      `INSERT INTO contracts (tenant_id, id, role, purpose, legal_basis, starts_on, jurisdiction)
       VALUES ($1, $2, 'processor', $3, 'contract', '2024-01-01', 'DK')`,
      [T, id, purpose],
    );
  }
  for (const [id, contract] of [
    ['m1', 'heat'],
    ['m2', 'heat'],
    ['s1', 'stats'],
  ]) {
    await sql.query(
      `INSERT INTO devices (id, tenant_id, contract_id, kind, login_hash, login_type, credential_hash)
       VALUES ($1, $2, $3, 'heat_meter', $1, 'wmbus', 'x')`,
      [id, T, contract],
    );
  }
  for (const [ref, deviceId] of [
    ['kunde-1', 'm1'],
    ['kunde-1', 's1'],
    ['kunde-2', 'm2'],
  ]) {
    await sql.query('INSERT INTO subjects (tenant_id, ref) VALUES ($1, $2) ON CONFLICT DO NOTHING', [T, ref]);
    await sql.query('INSERT INTO subject_devices (tenant_id, subject_ref, device_id) VALUES ($1, $2, $3)', [
      T,
      ref,
      deviceId,
    ]);
  }
});
after(async () => {
  for (const g of gates) g.stop();
  await sql.close();
});

function gate(refreshMs = 3_600_000): ObjectionGate {
  const g = createObjectionGate({ sql, logger, refreshMs });
  gates.push(g);
  return g;
}

const object = (ref: string, purpose: string, basis: 'objection' | 'consent_withdrawal') =>
  sql.query(
    `INSERT INTO subject_objections (tenant_id, subject_ref, purpose, basis, since) VALUES ($1, $2, $3, $4, now())`,
    [T, ref, purpose, basis],
  );

test('an objection blocks the subject’s devices under the objected purpose only, answered from memory', async () => {
  const g = gate();
  await g.start();
  assert.equal(g.blocked(device('m1'), Date.now()), null);

  await object('kunde-1', 'billing', 'objection');
  assert.equal(g.blocked(device('m1'), Date.now()), null, 'not seen before the gate re-reads');
  await g.refresh();
  assert.equal(g.blocked(device('m1'), Date.now()), 'objection');
  assert.equal(g.blocked(device('m2'), Date.now()), null, 'another subject’s device');
  assert.equal(
    g.blocked(device('s1', 'statistics'), Date.now()),
    null,
    'the subject’s device under another purpose',
  );
  assert.equal(g.size(), 1);

  const before = queries;
  for (let i = 0; i < 100_000; i++) g.blocked(device(i % 2 ? 'm1' : 'm2'), Date.now());
  assert.equal(queries, before, 'no registry query per message');
});

test('objection and consent withdrawal for one purpose are two records; lifting one leaves the other', async () => {
  const g = gate();
  await object('kunde-2', 'billing', 'consent_withdrawal');
  await object('kunde-2', 'billing', 'objection');
  await g.start();
  assert.equal(g.blocked(device('m2'), Date.now()), 'objection');
  await sql.query(`DELETE FROM subject_objections WHERE subject_ref = 'kunde-2' AND basis = 'objection'`);
  await g.refresh();
  assert.equal(g.blocked(device('m2'), Date.now()), 'consent_withdrawal');
  await sql.query(`DELETE FROM subject_objections WHERE subject_ref = 'kunde-2'`);
  await g.refresh();
  assert.equal(g.blocked(device('m2'), Date.now()), null);
});

test('a gate of another instance sees a change on its next timed re-read', async () => {
  const other = gate(50);
  await other.start();
  assert.equal(other.blocked(device('s1', 'statistics'), Date.now()), null);
  await object('kunde-1', 'statistics', 'objection');
  await waitUntil(async () => other.blocked(device('s1', 'statistics'), Date.now()) === 'objection', {
    what: 'the timed re-read sees the objection',
    timeoutMs: 10_000,
    intervalMs: 20,
  });
});

test('a link period decides whose reading a point is: outside it no objection of the subject applies', () => {
  const t = Date.parse('2026-06-01T00:00:00Z');
  assert.ok(withinLinkPeriod({ fromMs: null, toMs: null }, t));
  assert.ok(withinLinkPeriod({ fromMs: t, toMs: null }, t), 'from the first moment');
  assert.ok(!withinLinkPeriod({ fromMs: t + 1, toMs: null }, t), 'before the subject moved in');
  assert.ok(!withinLinkPeriod({ fromMs: null, toMs: t }, t), 'from the moment the subject moved out');
  assert.ok(withinLinkPeriod({ fromMs: null, toMs: t + 1 }, t));
});
