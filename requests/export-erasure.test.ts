/**
 * A subject's export (art. 15, 20) and erasure (art. 17) against a real
 * InfluxDB, with the registry on PGlite and on PostgreSQL: the export holds exactly the points stored for the
 * subject across a key rotation, in JSON and CSV; the erasure receipt agrees
 * with what InfluxDB and the registry hold afterwards; held data is kept and
 * named; another tenant can neither see nor touch any of it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LOGIN_TYPE } from '../registry/enrolment.ts';
import { BILLING_MEASUREMENT } from '../retention/billing.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from '../test/e2e/devices.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { forEachRegistry } from '../test/harness/registries.ts';
import { type Stack, startStack } from '../test/harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken, operator, parseCsv } from '../test/harness/tenant-api.ts';
import { eraseSubject } from './erasure.ts';
import { createTelemetryPages } from './telemetry-pages.ts';

forEachRegistry((registry) => {
  const A = 'nordvarme';
  const B = 'sydvarme';
  const T0 = Date.now() - 6 * 3_600_000;

  let stack: Stack;
  let tokenA: string;
  let tokenB: string;
  let meter: TestDevice;
  let sim: TestDevice;
  let heldMeter: TestDevice;
  let otherMeter: TestDevice;

  async function publish(d: TestDevice, seqs: number[]): Promise<void> {
    // A new connection each time: the key version is fixed at CONNECT.
    const client = await connectDevice(stack.mqttUrl, d);
    try {
      for (const seq of seqs) {
        await publishAcked(client, d.telemetry, JSON.stringify(validReading(d, seq, T0 + seq * 900_000)));
      }
    } finally {
      await client.endAsync();
    }
  }
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  const pseudonymsOf = (d: TestDevice) =>
    stack.skjold.pseudonymizer.allVersions(d.tenantId, LOGIN_TYPE[d.kind], d.login).map((p) => p.pseudonym);
  const where = (ps: string[]) => ps.map((p) => `device = '${p}'`).join(' OR ');
  const loginOf = (d: TestDevice) => ({ [LOGIN_TYPE[d.kind]]: d.login });

  before(async () => {
    stack = await startStack({}, { registry });
    await addTenant(stack.api, A);
    await addTenant(stack.api, B);
    const ids = identifierSource('subject-requests');
    meter = await addDevice(stack.api, ids, A, 'heat_meter');
    sim = await addDevice(stack.api, ids, A, 'sim_unit');
    heldMeter = await addDevice(stack.api, ids, A, 'heat_meter');
    otherMeter = await addDevice(stack.api, ids, B, 'heat_meter');
    tokenA = (await issueToken(stack, A, ALL_SCOPES)).token;
    tokenB = (await issueToken(stack, B, ALL_SCOPES)).token;

    const link = (token: string, ref: string, body: unknown) =>
      callAs(stack, token, 'PUT', `/tenant/v1/subjects/${ref}/devices`, body);
    assert.equal((await link(tokenA, 'kunde-1001', { identifiers: loginOf(meter) })).status, 200);
    assert.equal(
      (await link(tokenA, 'kunde-1001', { identifiers: { iccid: sim.login, imsi: sim.identifiers.imsi } }))
        .status,
      200,
    );
    assert.equal((await link(tokenA, 'kunde-1002', { deviceId: heldMeter.id })).status, 200);
    assert.equal((await link(tokenB, 'kunde-1001', { identifiers: loginOf(otherMeter) })).status, 200);

    await publish(meter, range(0, 6));
    await publish(sim, range(0, 6));
    await publish(heldMeter, range(0, 4));
    await publish(otherMeter, range(0, 4));
    await stack.api.rotateKey(A);
    await publish(meter, range(6, 12));
    await publish(sim, range(6, 12));
    await stack.settled();
  });
  after(() => stack.stop());

  async function storedFor(d: TestDevice, measurement: string) {
    return rows(stack.skjold.store, A, `SELECT * FROM ${measurement} WHERE ${where(pseudonymsOf(d))}`);
  }

  test('the subject’s devices wrote under two key versions', async () => {
    assert.equal(pseudonymsOf(meter).length, 2);
    const devices = new Set((await storedFor(meter, 'heat_meter')).map((r) => r.device));
    assert.deepEqual([...devices].sort(), pseudonymsOf(meter).sort());
  });

  test('the JSON export holds exactly the subject’s stored points, with its own identifiers and the art. 15 information', async () => {
    const stored = (await storedFor(meter, 'heat_meter')).length + (await storedFor(sim, 'sim_unit')).length;
    assert.equal(stored, 24);
    const res = await callAs(stack, tokenA, 'GET', '/tenant/v1/subjects/kunde-1001/export?format=json');
    assert.equal(res.status, 200);
    const doc = res.json<{
      telemetry: Array<{
        deviceId: string;
        identifiers: Record<string, string>;
        tags: Record<string, string>;
        time: string;
      }>;
      summary: { points: number };
      information: {
        purposes: unknown[];
        categories: unknown[];
        recipients: unknown[];
        retention: unknown[];
        source: string;
      };
      devices: Array<{ deviceId: string; identifiers: Record<string, string> }>;
    }>();
    assert.equal(doc.telemetry.length, stored);
    assert.equal(doc.summary.points, stored);
    const seen = new Set(doc.telemetry.map((r) => `${r.tags.device}@${r.time}`));
    assert.equal(seen.size, stored, 'no point twice');
    assert.deepEqual(new Set(doc.telemetry.map((r) => r.deviceId)), new Set([meter.id, sim.id]));
    const m = doc.devices.find((d) => d.deviceId === meter.id);
    assert.equal(m?.identifiers.wmbus, meter.login, 'the tenant sees its own meter id again');
    const s = doc.devices.find((d) => d.deviceId === sim.id);
    assert.equal(s?.identifiers.iccid, sim.login);
    assert.equal(s?.identifiers.imsi, sim.identifiers.imsi);
    for (const key of ['purposes', 'categories', 'recipients', 'retention'] as const) {
      assert.ok(doc.information[key].length > 0, key);
    }
    assert.match(doc.information.source, /MQTT/);
    assert.ok(!res.body.includes(otherMeter.login) && !res.body.includes(heldMeter.id), 'only this subject');
  });

  test('the CSV export has one row per stored point and a column per tag and field', async () => {
    const res = await callAs(stack, tokenA, 'GET', '/tenant/v1/subjects/kunde-1001/export?format=csv');
    assert.equal(res.status, 200);
    assert.match(String(res.body.slice(0, 200)), /^measurement,time,device_id,identifier,/);
    const table = parseCsv(res.body);
    const [header, ...data] = table;
    assert.ok(header);
    assert.equal(data.length, 24);
    for (const row of data) assert.equal(row.length, header.length, 'every row as wide as the header');
    for (const col of ['device', 'contract', 'purpose', 'energy_kwh', 'rssi_dbm', 'seq'])
      assert.ok(header.includes(col), col);
    const identifier = header.indexOf('identifier');
    assert.ok(data.some((r) => r[identifier] === `wmbus:${meter.login}`));
  });

  test('paging by time with LIMIT reads every point once, whatever the page size', async () => {
    const filter = { deviceIn: [...pseudonymsOf(meter), ...pseudonymsOf(sim)] };
    for (const size of [1, 5, 7, 1000]) {
      const pages = createTelemetryPages(stack.skjold.store, A, size);
      const seen: string[] = [];
      for await (const p of pages.points(filter)) seen.push(`${p.tags.device}@${p.time}`);
      assert.equal(seen.length, 24, `page size ${size}`);
      assert.equal(new Set(seen).size, 24);
      assert.deepEqual(await pages.count(filter), { series: 4, points: 24 });
    }
  });

  test('another tenant’s subject, device or request and a made-up one get the same answer', async () => {
    const made = await callAs(stack, tokenB, 'GET', '/tenant/v1/subjects/kunde-9999/export');
    const theirs = await callAs(stack, tokenB, 'GET', '/tenant/v1/subjects/kunde-1002/export');
    assert.equal(made.status, 404);
    assert.deepEqual([theirs.status, theirs.body], [made.status, made.body]);
    // B has its own kunde-1001: B's export holds only B's meter.
    const own = await callAs(stack, tokenB, 'GET', '/tenant/v1/subjects/kunde-1001/export');
    assert.equal(own.status, 200);
    assert.ok(own.body.includes(otherMeter.login) && !own.body.includes(meter.login));

    const linkTheirs = await callAs(stack, tokenB, 'PUT', '/tenant/v1/subjects/kunde-1001/devices', {
      identifiers: loginOf(meter),
    });
    const linkMade = await callAs(stack, tokenB, 'PUT', '/tenant/v1/subjects/kunde-1001/devices', {
      identifiers: { wmbus: 'KAM99999999' },
    });
    const linkId = await callAs(stack, tokenB, 'PUT', '/tenant/v1/subjects/kunde-1001/devices', {
      deviceId: meter.id,
    });
    assert.equal(linkMade.status, 404);
    assert.deepEqual([linkTheirs.status, linkTheirs.body], [linkMade.status, linkMade.body]);
    assert.deepEqual([linkId.status, linkId.body], [linkMade.status, linkMade.body]);

    const eraseTheirs = await callAs(stack, tokenB, 'POST', '/tenant/v1/subjects/kunde-1002/erase', {});
    assert.deepEqual([eraseTheirs.status, eraseTheirs.body], [made.status, made.body]);
    const filed = await callAs(stack, tokenA, 'POST', '/tenant/v1/requests', {
      subjectRef: 'kunde-1002',
      kind: 'access',
    });
    assert.equal(filed.status, 201);
    const id = filed.json<{ id: string }>().id;
    const peek = await callAs(stack, tokenB, 'GET', `/tenant/v1/requests/${id}`);
    const none = await callAs(stack, tokenB, 'GET', '/tenant/v1/requests/req-made-up');
    assert.equal(none.status, 404);
    assert.deepEqual([peek.status, peek.body], [none.status, none.body]);
    assert.equal(
      (await rows(stack.skjold.store, A, 'SELECT count(seq) FROM heat_meter'))[0]?.count,
      16,
      'nothing changed',
    );
  });

  test('tokens: missing, wrong, revoked and out-of-scope are refused and counted', async () => {
    const path = '/tenant/v1/subjects/kunde-1001/export';
    assert.equal((await callAs(stack, null, 'GET', path)).status, 401);
    assert.equal((await callAs(stack, 'skjt_not-a-real-token', 'GET', path)).status, 401);
    assert.equal(
      (await callAs(stack, operator(stack), 'GET', path)).status,
      401,
      'the operator token is no tenant token',
    );
    const narrow = await issueToken(stack, A, ['requests']);
    const scope = await callAs(stack, narrow.token, 'GET', path);
    assert.equal(scope.status, 403);
    assert.equal(scope.json().code, 'SKJOLD_ERR_SCOPE');
    assert.equal((await callAs(stack, narrow.token, 'GET', '/tenant/v1/requests')).status, 200);
    const revoke = await callAs(stack, operator(stack), 'DELETE', `/v1/tenants/${A}/tokens/${narrow.id}`);
    assert.equal(revoke.status, 204);
    const revoked = await callAs(stack, narrow.token, 'GET', '/tenant/v1/requests');
    assert.equal(revoked.status, 401);
    assert.deepEqual(
      revoked.json(),
      (await callAs(stack, 'skjt_x', 'GET', path)).json(),
      'revoked looks like unknown',
    );
    // Tenant tokens are not operator tokens either.
    assert.equal((await callAs(stack, tokenA, 'GET', '/v1/tenants')).status, 401);
    const metrics = (await callAs(stack, null, 'GET', '/metrics')).body;
    for (const reason of ['missing', 'invalid', 'revoked', 'scope']) {
      assert.match(
        metrics,
        new RegExp(`skjold_tenant_auth_refused_total\\{reason="${reason}"\\} [1-9]`),
        reason,
      );
    }
    // Stored hashed: the registry has no token in clear.
    const stored = await stack.skjold.registry.sql.query<{ token_hash: string }>(
      'SELECT token_hash FROM tenant_tokens',
    );
    assert.ok(stored.every((r) => !r.token_hash.startsWith('skjt_') && r.token_hash !== tokenA));
  });

  test('special-category notes need explicit consent, are sealed at rest and appear in the export', async () => {
    const path = '/tenant/v1/subjects/kunde-1001/special-category';
    const note = 'vulnerable consumer: warn before disconnection';
    const missing = await callAs(stack, tokenA, 'POST', path, { category: 'health', note });
    assert.equal(missing.status, 422);
    assert.equal(missing.json().code, 'SKJOLD_ERR_CONSENT_REQUIRED');
    const ok = await callAs(stack, tokenA, 'POST', path, {
      category: 'health',
      note,
      consent: { givenAt: new Date().toISOString(), text: 'I agree that my health situation is recorded.' },
    });
    assert.equal(ok.status, 201);
    const dump = JSON.stringify(
      await stack.skjold.registry.sql.query('SELECT * FROM subject_special_category'),
    );
    assert.ok(!dump.includes('vulnerable'), 'sealed at rest');
    const sealed = JSON.stringify(await stack.skjold.registry.sql.query('SELECT * FROM sealed_identifiers'));
    assert.ok(!sealed.includes(meter.login) && !sealed.includes(sim.login), 'identifiers sealed at rest');
    const exp = await callAs(stack, tokenA, 'GET', '/tenant/v1/subjects/kunde-1001/export');
    assert.ok(exp.body.includes(note));
  });

  test('erasure deletes the subject’s telemetry and records, keeps the billing readings and says so', async () => {
    const beforeMeter = (await storedFor(meter, 'heat_meter')).length;
    const beforeSim = (await storedFor(sim, 'sim_unit')).length;
    const res = await callAs(stack, tokenA, 'POST', '/tenant/v1/subjects/kunde-1001/erase', {});
    assert.equal(res.status, 200, res.body);
    const receipt = res.json<{
      subject: string;
      deleted: {
        before: { series: number; points: number };
        after: { series: number; points: number };
        indexAfter: string[];
        index: { state: string };
        devices: string[];
        registry: Record<string, number | boolean>;
      };
      kept: Array<{ article: string; billing?: { readings: number; rule: string; keepUntil: string } }>;
      audit: { seq: number; hash: string };
    }>();
    assert.deepEqual(receipt.deleted.before, { series: 4, points: beforeMeter + beforeSim });
    assert.deepEqual(receipt.deleted.after, { series: 0, points: 0 });
    assert.deepEqual(receipt.deleted.indexAfter, []);
    assert.ok(['clean', 'purged'].includes(receipt.deleted.index.state), receipt.deleted.index.state);
    assert.deepEqual(receipt.deleted.registry, {
      links: 2,
      sealedIdentifiers: 3,
      specialCategory: 1,
      subject: true,
    });
    const billing = receipt.kept.find((k) => k.billing);
    assert.ok(billing?.billing && billing.billing.readings >= 1, 'billing readings kept');
    assert.match(billing.article, /17\(3\)\(b\)/);
    assert.match(billing.billing.rule, /bogføringsloven/);

    // InfluxDB agrees: no telemetry, no index entry but the kept billing reading's.
    assert.equal((await storedFor(meter, 'heat_meter')).length, 0);
    assert.equal((await storedFor(sim, 'sim_unit')).length, 0);
    const tagValues = await rows(stack.skjold.store, A, 'SHOW TAG VALUES WITH KEY = "device"');
    const left = new Set(tagValues.map((r) => r.value));
    for (const p of pseudonymsOf(sim)) assert.ok(!left.has(p), `${p} still in the index`);
    const billingTags = await rows(
      stack.skjold.store,
      A,
      `SHOW TAG VALUES FROM ${BILLING_MEASUREMENT} WITH KEY = "device"`,
    );
    for (const p of pseudonymsOf(meter).filter((x) => left.has(x)))
      assert.ok(
        billingTags.some((r) => r.value === p),
        `${p} only for the kept billing reading`,
      );
    const kept = await rows(stack.skjold.store, A, `SELECT * FROM ${BILLING_MEASUREMENT}`);
    assert.equal(kept.length, billing.billing.readings);
    // Others’ data is untouched.
    assert.equal((await storedFor(heldMeter, 'heat_meter')).length, 4);
    assert.equal((await rows(stack.skjold.store, B, 'SELECT * FROM heat_meter')).length, 4);

    // The registry agrees: nothing of the subject is left, and its ref appears nowhere.
    const sql = stack.skjold.registry.sql;
    for (const table of [
      'subjects',
      'subject_devices',
      'subject_special_category',
      'subject_objections',
      'subject_restrictions',
    ]) {
      const found = await sql.query(
        `SELECT * FROM ${table} WHERE tenant_id = $1 AND ${table === 'subjects' ? 'ref' : 'subject_ref'} = $2`,
        [A, 'kunde-1001'],
      );
      assert.deepEqual(found, [], table);
    }
    const sealed = await sql.query('SELECT * FROM sealed_identifiers WHERE device_id = ANY($1::text[])', [
      [meter.id, sim.id],
    ]);
    assert.deepEqual(sealed, []);
    for (const table of ['audit_log', 'subject_requests']) {
      const text = JSON.stringify(await sql.query(`SELECT * FROM ${table} WHERE tenant_id = $1`, [A]));
      assert.ok(!text.includes('kunde-1001'), `${table} names the subject ref`);
      assert.ok(!text.includes(meter.login) && !text.includes(sim.login), `${table} holds a raw identifier`);
    }

    // The audit entry named in the receipt is in the verified chain.
    const entries = await stack.skjold.audit.list({ tenantId: A, action: 'subject.erase' });
    const entry = entries.find((e) => e.seq === receipt.audit.seq);
    assert.equal(entry?.hash, receipt.audit.hash);
    assert.equal(entry?.target, receipt.subject);
    assert.equal((await stack.skjold.audit.verify()).ok, true);

    const again = await callAs(stack, tokenA, 'GET', '/tenant/v1/subjects/kunde-1001/export');
    assert.equal(again.status, 404, 'the subject is gone');
  });

  test('a held subject’s data is kept and the hold named; eraseSubject works from the app’s parts', async () => {
    const hold = await stack.skjold.holds.create({
      tenantId: A,
      scope: 'subject',
      target: 'kunde-1002',
      reason: 'billing dispute, case 2026-17',
    });
    const receipt = await eraseSubject(stack.skjold, A, 'kunde-1002');
    assert.deepEqual(receipt.deleted.devices, []);
    assert.deepEqual(receipt.deleted.before, { series: 0, points: 0 });
    const named = receipt.kept.flatMap((k) => k.holds ?? []).map((h) => h.id);
    assert.ok(named.includes(hold.id), 'the hold is named');
    assert.ok(receipt.kept.some((k) => k.devices.includes(heldMeter.id)));
    assert.equal((await storedFor(heldMeter, 'heat_meter')).length, 4, 'kept');
    const [subject] = await stack.skjold.registry.sql.query(
      'SELECT 1 FROM subjects WHERE tenant_id = $1 AND ref = $2',
      [A, 'kunde-1002'],
    );
    assert.ok(subject, 'the held subject stays registered');
    const [entry] = await stack.skjold.audit.list({
      tenantId: A,
      action: 'subject.erase',
      afterSeq: receipt.audit.seq - 1,
    });
    assert.equal(entry?.actor, 'operator');
  });
});
