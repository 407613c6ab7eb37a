import { type Clock, systemClock } from '../lib/clock.ts';
import type { SqlClient } from '../registry/sql.ts';
import { type Anchor, type AnchorReading, createAnchors } from './anchors.ts';
import { type AuditProblem, createChainCheck, SEAL_ACTION, type StoredEntry } from './chain-check.ts';
import { canonicalJson, entryMac, GENESIS, legacyHash } from './entry-hash.ts';

export type { AuditProblem, AuditProblemKind } from './chain-check.ts';
export { canonicalJson, GENESIS } from './entry-hash.ts';

/** What a caller records. `target` and `detail` hold pseudonyms, ids and counts, never a raw identifier or a secret. */
export interface AuditInput {
  actor: string;
  action: string;
  tenantId?: string | null;
  target?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  tenantId: string | null;
  target: string | null;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** seq and hash of the last entry: publish it elsewhere to anchor the chain. */
  head: { seq: number; hash: string } | null;
  /** Every anchor file looked at, and what it records (null: missing). */
  anchors: { file: string; anchor: Anchor | null }[];
  problems: AuditProblem[];
}

// Any constant: appends from several instances take turns.
const LOCK_ID = 7_245_002;
const PAGE = 1000;

type Tx = Pick<SqlClient, 'query'>;

interface Row {
  seq: string | number;
  at: string;
  actor: string;
  action: string;
  tenantId: string | null;
  target: string | null;
  detail: string;
  prevHash: string;
  hash: string;
}

const COLUMNS = `seq, at, actor, action, tenant_id AS "tenantId", target, detail, prev_hash AS "prevHash", hash`;

const stored = (r: Row): StoredEntry => ({ ...r, seq: Number(r.seq) });

function fromRow(r: Row): AuditEntry {
  return { ...r, seq: Number(r.seq), detail: JSON.parse(r.detail) as Record<string, unknown> };
}

export interface AuditLogOptions {
  /** The audit key (KeyStore.auditKey()): every entry carries its HMAC under it. */
  key: Buffer;
  clock?: Clock;
  /**
   * This instance's anchor file, outside the registry: the newest (seq, hash)
   * it appended. With it, `verify` also notices entries cut from the end of
   * the chain, and entries added after it, which the chain alone cannot show.
   */
  anchorFile?: string;
  /** Other instances' anchor files, read by `verify`: the newest of all must be the chain's head. */
  peerAnchorFiles?: readonly string[];
}

/**
 * The audit log: every registry change, retention action, data-subject
 * request, export, erasure, key rotation and tenant-token use, in one chain
 * of HMACs under the audit key.
 */
export function createAuditLog(sql: SqlClient, options: AuditLogOptions) {
  const { key } = options;
  const clock = options.clock ?? systemClock;
  const anchors = createAnchors(options.anchorFile, options.peerAnchorFiles);

  async function lastEntry(tx: Tx): Promise<StoredEntry | undefined> {
    const [last] = await tx.query<Row>(`SELECT ${COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1`);
    return last && stored(last);
  }

  // Called with the chain's lock held. The anchor is written before the
  // commit, still under the lock, so anchors move in the chain's order even
  // across instances; should the commit fail, the next append takes the same
  // seq and rewrites the anchor.
  async function appendLocked(tx: Tx, input: AuditInput): Promise<AuditEntry> {
    const last = await lastEntry(tx);
    const base = {
      seq: last ? last.seq + 1 : 1,
      at: clock().toISOString(),
      actor: input.actor,
      action: input.action,
      tenantId: input.tenantId ?? null,
      target: input.target ?? null,
      detail: canonicalJson(input.detail ?? {}),
      prevHash: last?.hash ?? GENESIS,
    };
    const hash = entryMac(key, base);
    await tx.query(
      `INSERT INTO audit_log (seq, at, actor, action, tenant_id, target, detail, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        base.seq,
        base.at,
        base.actor,
        base.action,
        base.tenantId,
        base.target,
        base.detail,
        base.prevHash,
        hash,
      ],
    );
    await anchors.write({ seq: base.seq, hash });
    return { ...base, detail: input.detail ?? {}, hash };
  }

  const locked = <T>(op: (tx: Tx) => Promise<T>): Promise<T> =>
    sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
      return op(tx);
    });

  return {
    /** Appends one entry after the current head, atomically; returns it with its hash. */
    append: (input: AuditInput): Promise<AuditEntry> => locked((tx) => appendLocked(tx, input)),

    /**
     * A chain written before the audit key existed ends in an entry hashed
     * with plain SHA-256. If that chain is intact (every link, every hash, and
     * this instance's anchor on it), one keyed `audit.keyed` entry seals it:
     * its HMAC covers the old head, so the old part can no longer change
     * unseen. A broken old chain is left as it is, for `verify` to report.
     */
    async sealLegacyChain(): Promise<{ sealed: boolean; refused?: string }> {
      return locked(async (tx) => {
        const last = await lastEntry(tx);
        if (!last || entryMac(key, last) === last.hash) return { sealed: false };
        if (legacyHash(last) !== last.hash)
          return {
            sealed: false,
            refused: `entry ${last.seq}, the newest, carries neither this audit key's HMAC nor a plain SHA-256 (another audit key, or edited)`,
          };
        let prevHash = GENESIS;
        let seq = 1;
        for (;;) {
          const rows = await tx.query<Row>(
            `SELECT ${COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2`,
            [seq, PAGE],
          );
          for (const r of rows.map(stored)) {
            if (r.seq !== seq || r.prevHash !== prevHash || legacyHash(r) !== r.hash)
              return { sealed: false, refused: `the old chain is broken at entry ${r.seq}` };
            prevHash = r.hash;
            seq++;
          }
          if (rows.length < PAGE) break;
        }
        const own = options.anchorFile ? (await anchors.readAll())[0] : undefined;
        if (options.anchorFile && !own?.anchor) return { sealed: false, refused: 'anchor missing' };
        if (own?.anchor) {
          const [at] = await tx.query<Row>(`SELECT ${COLUMNS} FROM audit_log WHERE seq = $1`, [
            own.anchor.seq,
          ]);
          if (!at || at.hash !== own.anchor.hash)
            return { sealed: false, refused: `the chain does not match its anchor (${own.anchor.seq})` };
        }
        await appendLocked(tx, {
          actor: 'system',
          action: SEAL_ACTION,
          detail: { legacyEntries: last.seq, legacyHead: last.hash },
        });
        return { sealed: true };
      });
    },

    /** Entries in order, optionally one tenant's or one action's, after a seq. */
    async list(filter: { tenantId?: string; action?: string; afterSeq?: number; limit?: number } = {}) {
      const rows = await sql.query<Row>(
        `SELECT ${COLUMNS} FROM audit_log
         WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR action = $2) AND seq > $3
         ORDER BY seq LIMIT $4`,
        [filter.tenantId ?? null, filter.action ?? null, filter.afterSeq ?? 0, filter.limit ?? PAGE],
      );
      return rows.map(fromRow);
    },

    /**
     * Walks the whole chain: every entry's HMAC must match its content, its
     * prev_hash the entry before it, and seq must run 1, 2, 3… without a gap.
     * Every anchor file must exist (once the chain has entries) and name an
     * entry of the chain, and the newest must be its head.
     */
    async verify(): Promise<AuditVerification> {
      // Head and anchors are read together under the lock: no append is
      // between its anchor write and its commit while they are.
      const { headSeq, readings } = await locked(async (tx) => ({
        headSeq: (await lastEntry(tx))?.seq ?? 0,
        readings: await anchors.readAll(),
      }));
      const check = createChainCheck(key, readings);
      let seq = 1;
      for (;;) {
        const rows = await sql.query<Row>(
          `SELECT ${COLUMNS} FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
          [seq, headSeq, PAGE],
        );
        for (const r of rows) check.add(stored(r));
        const last = rows.at(-1);
        if (rows.length < PAGE || !last) break;
        seq = Number(last.seq) + 1;
      }
      const { problems, head, entries } = check.finish(anchors.configured);
      return {
        ok: problems.length === 0,
        entries,
        head,
        anchors: readings.map((r: AnchorReading) => ({ file: r.file, anchor: r.anchor ?? null })),
        problems,
      };
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
