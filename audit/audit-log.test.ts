import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { manualClock } from '../lib/clock.ts';
import type { SqlClient } from '../registry/sql.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { type AuditLog, canonicalJson, createAuditLog, GENESIS } from './audit-log.ts';

const dir = mkdtempSync(join(tmpdir(), 'skjold-audit-'));
const key = randomBytes(32);
let sql: SqlClient;
let audit: AuditLog;
let anchorFile: string;
let n = 0;

const logFor = (options: { key?: Buffer; anchorFile?: string; peerAnchorFiles?: string[] } = {}) =>
  createAuditLog(sql, {
    key: options.key ?? key,
    clock: manualClock('2026-03-01T00:00:00Z'),
    anchorFile: options.anchorFile ?? anchorFile,
    ...(options.peerAnchorFiles ? { peerAnchorFiles: options.peerAnchorFiles } : {}),
  });

/** What someone with write access to the registry, but without the audit key, can compute. */
function forgedHash(
  e: {
    seq: number;
    at: string;
    actor: string;
    action: string;
    tenantId: string | null;
    target: string | null;
  },
  detail: string,
  prevHash: string,
  with_: 'sha256' | Buffer,
): string {
  const body = JSON.stringify([e.seq, e.at, e.actor, e.action, e.tenantId, e.target, detail, prevHash]);
  return with_ === 'sha256'
    ? createHash('sha256').update(body).digest('hex')
    : createHmac('sha256', with_).update(body).digest('hex');
}

/** Inserts a row after the current head with a hash the forger computed. */
async function insertForged(
  with_: 'sha256' | Buffer,
  target = 'forged',
  fields: { actor?: string; action?: string; detail?: (seq: number, prev: string) => string } = {},
): Promise<void> {
  const [last] = await sql.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
  );
  const e = {
    seq: Number(last?.seq ?? 0) + 1,
    at: '2026-03-01T00:00:00.000Z',
    actor: fields.actor ?? 'operator',
    action: fields.action ?? 'test.entry',
    tenantId: 'acme',
    target,
  };
  const prev = last?.hash ?? GENESIS;
  const detail = fields.detail?.(e.seq, prev) ?? '{}';
  await sql.query(
    `INSERT INTO audit_log (seq, at, actor, action, tenant_id, target, detail, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [e.seq, e.at, e.actor, e.action, e.tenantId, e.target, detail, prev, forgedHash(e, detail, prev, with_)],
  );
}

/** Rewrites every entry's hash (and the links) as the forger would, from seq 1. */
async function rehashAll(with_: 'sha256' | Buffer): Promise<void> {
  const rows = await sql.query<{
    seq: number;
    at: string;
    actor: string;
    action: string;
    tenantId: string | null;
    target: string | null;
    detail: string;
  }>(`SELECT seq, at, actor, action, tenant_id AS "tenantId", target, detail FROM audit_log ORDER BY seq`);
  let prev = GENESIS;
  for (const r of rows) {
    const hash = forgedHash({ ...r, seq: Number(r.seq) }, r.detail, prev, with_);
    await sql.query('UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3', [prev, hash, r.seq]);
    prev = hash;
  }
}

const kinds = (problems: { kind: string }[]) => [...new Set(problems.map((p) => p.kind))].sort();

beforeEach(async () => {
  await sql?.close();
  sql = await freshPglite();
  anchorFile = join(dir, `anchor-${n++}.json`);
  audit = logFor();
  for (let i = 1; i <= 5; i++) {
    await audit.append({
      actor: 'operator',
      action: 'test.entry',
      tenantId: 'acme',
      target: `p${i}`,
      detail: { i },
    });
  }
});
after(async () => {
  await sql?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('an untouched chain verifies, with its head and its anchor', async () => {
  const result = await audit.verify();
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.equal(result.entries, 5);
  assert.equal(result.head?.seq, 5);
  assert.deepEqual(result.anchors, [{ file: anchorFile, anchor: result.head }]);
  const entries = await audit.list({ tenantId: 'acme' });
  assert.deepEqual(
    entries.map((e) => e.detail.i),
    [1, 2, 3, 4, 5],
  );
  assert.equal(entries[1]?.prevHash, entries[0]?.hash);
});

test('an edited entry is detected', async () => {
  await sql.query(`UPDATE audit_log SET detail = '{"i":99}' WHERE seq = 3`);
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.deepEqual(
    result.problems.map((p) => p.seq),
    [3],
  );
  assert.match(result.problems[0]?.problem ?? '', /edited/);
});

test('an edit that also recomputes the entry’s own hash still breaks the chain after it', async () => {
  await sql.query(`UPDATE audit_log SET target = 'other', hash = repeat('a', 64) WHERE seq = 2`);
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.ok(result.problems.some((p) => p.seq === 3 && /does not follow/.test(p.problem)));
});

test('without the audit key a rewritten chain does not verify, whether rehashed with SHA-256 or another key', async () => {
  for (const with_ of ['sha256', randomBytes(32)] as const) {
    await sql.query(`UPDATE audit_log SET detail = '{"i":42}' WHERE seq = 2`);
    await rehashAll(with_);
    const result = await audit.verify();
    assert.equal(result.ok, false);
    // Every entry is reported: none carries the HMAC under the audit key.
    for (let seq = 1; seq <= 5; seq++) assert.ok(result.problems.some((p) => p.seq === seq));
    assert.ok(
      result.problems.every(
        (p) => p.kind === 'unkeyed' || p.kind === 'edited' || p.kind === 'anchor-mismatch',
      ),
    );
  }
  // The same rewrite with the key verifies (apart from the anchor, which still names the old head).
  await rehashAll(key);
  const withKey = await audit.verify();
  assert.deepEqual(kinds(withKey.problems), ['anchor-mismatch']);
});

test('a removed entry is detected', async () => {
  await sql.query('DELETE FROM audit_log WHERE seq = 2');
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.ok(result.problems.some((p) => /missing/.test(p.problem)));
});

test('reordered entries are detected', async () => {
  await sql.query('UPDATE audit_log SET seq = seq + 100 WHERE seq IN (2, 4)');
  await sql.query('UPDATE audit_log SET seq = CASE seq WHEN 102 THEN 4 ELSE 2 END WHERE seq > 100');
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.ok(result.problems.length >= 2);
});

test('entries cut from the end are detected through the anchor', async () => {
  await sql.query('DELETE FROM audit_log WHERE seq >= 4');
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.equal(result.problems[0]?.kind, 'truncated');
  assert.match(result.problems[0]?.problem ?? '', /removed from the end/);
});

test('a missing anchor file fails verification; a brand-new empty chain needs none', async () => {
  unlinkSync(anchorFile);
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.deepEqual(kinds(result.problems), ['anchor-missing']);
  assert.match(result.problems[0]?.problem ?? '', /anchor missing/);

  await sql.query('DELETE FROM audit_log');
  const empty = await audit.verify();
  assert.equal(empty.ok, true, JSON.stringify(empty.problems));
  assert.equal(empty.entries, 0);
  // An emptied chain whose anchor is still there: everything was removed.
  await sql.close();
  sql = await freshPglite();
  writeFileSync(anchorFile, JSON.stringify({ seq: 5, hash: 'a'.repeat(64) }));
  const emptied = await logFor().verify();
  assert.deepEqual(kinds(emptied.problems), ['truncated']);
});

test('entries forged after the anchored head are reported, even with hashes that follow the chain', async () => {
  await insertForged('sha256', 'forged-1');
  await insertForged(randomBytes(32), 'forged-2');
  const result = await audit.verify();
  assert.equal(result.ok, false);
  assert.deepEqual(
    result.problems.filter((p) => p.kind === 'unanchored').map((p) => p.seq),
    [6, 7],
  );
  assert.deepEqual(
    result.problems.filter((p) => p.kind !== 'unanchored').map((p) => [p.seq, p.kind]),
    [
      [6, 'unkeyed'],
      [7, 'edited'],
    ],
  );
  // Rows after the anchor fail even if they carried the right HMAC: no append of Skjold's left them unanchored.
  await sql.query('DELETE FROM audit_log WHERE seq > 5');
  await insertForged(key, 'forged-3');
  const keyed = await audit.verify();
  assert.deepEqual(
    keyed.problems.map((p) => [p.seq, p.kind]),
    [[6, 'unanchored']],
  );
});

test('an anchor naming an entry that does not exist or does not match fails', async () => {
  writeFileSync(anchorFile, JSON.stringify({ seq: 3, hash: 'b'.repeat(64) }));
  const mismatch = await audit.verify();
  assert.ok(mismatch.problems.some((p) => p.seq === 3 && p.kind === 'anchor-mismatch'));
  writeFileSync(anchorFile, JSON.stringify({ seq: 9, hash: 'b'.repeat(64) }));
  const beyond = await audit.verify();
  assert.ok(beyond.problems.some((p) => p.seq === 9 && p.kind === 'truncated'));
  writeFileSync(anchorFile, 'not json');
  assert.ok((await audit.verify()).problems.some((p) => p.kind === 'anchor-mismatch'));
});

test('several anchors: each must match, and the newest must be the head', async () => {
  const peer = join(dir, `peer-${n}.json`);
  const other = logFor({ anchorFile: peer, peerAnchorFiles: [anchorFile] });
  await other.append({ actor: 'system', action: 'test.peer' });
  const mine = logFor({ peerAnchorFiles: [peer] });
  const result = await mine.verify();
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.deepEqual(
    result.anchors.map((a) => a.anchor?.seq),
    [5, 6],
  );
  // Without the peer's anchor, this instance's own anchor is behind the head: seq 6 looks forged.
  assert.deepEqual(
    (await logFor().verify()).problems.map((p) => [p.seq, p.kind]),
    [[6, 'unanchored']],
  );
  unlinkSync(peer);
  assert.deepEqual(kinds((await mine.verify()).problems), ['anchor-missing', 'unanchored']);
});

test('a chain hashed the old way is sealed once under the key and then verifies; unsealed old entries do not', async () => {
  // The chain as an older Skjold wrote it: plain SHA-256, and its anchor.
  await rehashAll('sha256');
  const [head] = await sql.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 5');
  writeFileSync(anchorFile, JSON.stringify({ seq: 5, hash: head?.hash }));
  const before = await audit.verify();
  assert.deepEqual(kinds(before.problems), ['unkeyed']);

  assert.deepEqual(await audit.sealLegacyChain(), { sealed: true });
  assert.deepEqual(await audit.sealLegacyChain(), { sealed: false }); // once
  await audit.append({ actor: 'operator', action: 'test.after' });
  const result = await audit.verify();
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  const [seal] = await audit.list({ action: 'audit.keyed' });
  assert.equal(seal?.seq, 6);
  assert.deepEqual(seal?.detail, { legacyEntries: 5, legacyHead: head?.hash });

  // The sealed old part cannot change: editing and rehashing it breaks the link to the seal.
  await sql.query(`UPDATE audit_log SET detail = '{"i":7}' WHERE seq = 3`);
  const [r3] = await sql.query<{
    seq: number;
    at: string;
    actor: string;
    action: string;
    tenantId: string;
    target: string;
    prevHash: string;
  }>(
    `SELECT seq, at, actor, action, tenant_id AS "tenantId", target, prev_hash AS "prevHash" FROM audit_log WHERE seq = 3`,
  );
  assert.ok(r3);
  await sql.query('UPDATE audit_log SET hash = $1 WHERE seq = 3', [
    forgedHash({ ...r3, seq: 3 }, '{"i":7}', r3.prevHash, 'sha256'),
  ]);
  assert.ok((await audit.verify()).problems.some((p) => p.seq === 4 && p.kind === 'unlinked'));
});

test('an old chain that is broken, or whose anchor is missing, is not sealed', async () => {
  await rehashAll('sha256');
  unlinkSync(anchorFile);
  assert.deepEqual(await audit.sealLegacyChain(), { sealed: false, refused: 'anchor missing' });
  const [head] = await sql.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 5');
  writeFileSync(anchorFile, JSON.stringify({ seq: 5, hash: head?.hash }));
  await sql.query(`UPDATE audit_log SET detail = '{"i":0}' WHERE seq = 2`);
  const refused = await audit.sealLegacyChain();
  assert.equal(refused.sealed, false);
  assert.match(refused.refused ?? '', /broken at entry 2/);
  assert.equal((await audit.list({ action: 'audit.keyed' })).length, 0);
  // A chain keyed under another audit key is not an old chain either.
  await rehashAll(randomBytes(32));
  assert.match(
    (await audit.sealLegacyChain()).refused ?? '',
    /neither this audit key's HMAC nor a plain SHA-256/,
  );
  assert.equal((await audit.list({ action: 'audit.keyed' })).length, 0);
});

test('a seal refused for a missing anchor waits, appends going on, until an operator writes the head into the anchor', async () => {
  await rehashAll('sha256');
  const [head] = await sql.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 5');
  unlinkSync(anchorFile);
  assert.deepEqual(await audit.sealLegacyChain(), { sealed: false, refused: 'anchor missing' });
  // The instance runs on meanwhile: keyed entries follow the old part, which stays unsealed,
  // and the missing anchor stays missing.
  await audit.append({ actor: 'operator', action: 'test.meanwhile' });
  assert.deepEqual(kinds((await audit.verify()).problems), ['anchor-missing', 'unkeyed']);
  assert.deepEqual(await audit.sealLegacyChain(), { sealed: false, refused: 'anchor missing' });
  // Having looked into it, the operator anchors the head verify printed; the next start seals.
  const { head: printed } = await audit.verify();
  writeFileSync(anchorFile, JSON.stringify(printed));
  assert.deepEqual(await audit.sealLegacyChain(), { sealed: true });
  const [seal] = await audit.list({ action: 'audit.keyed' });
  assert.equal(seal?.seq, 7);
  assert.deepEqual(seal?.detail, { legacyEntries: 5, legacyHead: head?.hash });
  const result = await audit.verify();
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.deepEqual(await audit.sealLegacyChain(), { sealed: false });
});

test('appends leave the evidence: an anchor the chain no longer reaches stays, a missing one is not remade', async () => {
  await sql.query('DELETE FROM audit_log WHERE seq >= 4');
  for (let i = 0; i < 4; i++) await audit.append({ actor: 'operator', action: 'test.after-cut' });
  const cut = await audit.verify();
  assert.ok(cut.problems.some((p) => p.seq === 5 && p.kind === 'anchor-mismatch'));
  assert.ok(cut.problems.some((p) => p.seq === 6 && p.kind === 'unanchored'));
  assert.deepEqual(cut.anchors[0]?.anchor?.seq, 5);

  writeFileSync(anchorFile, JSON.stringify(cut.head)); // the operator, having looked into it
  assert.equal((await audit.verify()).ok, true);
  unlinkSync(anchorFile);
  await audit.append({ actor: 'operator', action: 'test.after-unlink' });
  assert.deepEqual(kinds((await audit.verify()).problems), ['anchor-missing']);
});

test('an append whose commit fails puts the anchor back', async () => {
  const before = readFileSync(anchorFile, 'utf8');
  // Checked at COMMIT, after the anchor was written.
  await sql.exec(`
    CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'commit refused'; END $$;
    CREATE CONSTRAINT TRIGGER refuse_audit AFTER INSERT ON audit_log
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_audit();
  `);
  await assert.rejects(audit.append({ actor: 'operator', action: 'test.lost' }), /commit refused/);
  assert.equal(readFileSync(anchorFile, 'utf8'), before);
  await sql.exec('DROP TRIGGER refuse_audit ON audit_log');
  await audit.append({ actor: 'operator', action: 'test.kept' });
  const result = await audit.verify();
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.equal(result.entries, 6);
});

test('a forger cannot pass off a rewritten chain as an old one sealed by a seal of their own', async () => {
  await rehashAll('sha256');
  await insertForged(randomBytes(32), null as unknown as string, {
    actor: 'system',
    action: 'audit.keyed',
    detail: (seq, prev) => canonicalJson({ legacyEntries: seq - 1, legacyHead: prev }),
  });
  writeFileSync(anchorFile, JSON.stringify({ seq: 6, hash: (await audit.list({ afterSeq: 5 }))[0]?.hash }));
  const result = await audit.verify();
  assert.deepEqual(
    result.problems.map((p) => [p.seq, p.kind]),
    [
      [1, 'unkeyed'],
      [2, 'unkeyed'],
      [3, 'unkeyed'],
      [4, 'unkeyed'],
      [5, 'unkeyed'],
      [6, 'edited'],
    ],
  );
});

test('old-style entries after keyed ones are reported as forged', async () => {
  await insertForged('sha256');
  const [forged] = await audit.list({ afterSeq: 5 });
  writeFileSync(anchorFile, JSON.stringify({ seq: 6, hash: forged?.hash }));
  assert.deepEqual(
    (await audit.verify()).problems.map((p) => [p.seq, p.kind]),
    [[6, 'unkeyed']],
  );
});

test('appends from many callers at once form one chain', async () => {
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      audit.append({ actor: 'system', action: 'test.burst', detail: { i } }),
    ),
  );
  const result = await audit.verify();
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.equal(result.entries, 25);
  assert.deepEqual(result.anchors[0]?.anchor, result.head);
});

test('canonical JSON sorts keys at every depth', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } }),
    '{"a":{"c":3,"d":[2,{"y":2,"z":1}]},"b":1}',
  );
});
