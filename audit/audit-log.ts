import { type Clock, systemClock } from '../lib/clock.ts';
import type { SqlClient } from '../registry/sql.ts';
import { type Anchor, type AnchorReading, createAnchors } from './anchors.ts';
import {
  type AuditProblem,
  createChainCheck,
  SEAL_ACTION,
  type StoredEntry,
  sealsPrefix,
} from './chain-check.ts';
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

  async function entryAt(tx: Tx, seq: number): Promise<StoredEntry | undefined> {
    const [row] = await tx.query<Row>(`SELECT ${COLUMNS} FROM audit_log WHERE seq = $1`, [seq]);
    return row && stored(row);
  }

  async function lastEntry(tx: Tx): Promise<StoredEntry | undefined> {
    const [last] = await tx.query<Row>(`SELECT ${COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1`);
    return last && stored(last);
  }

  /**
   * Whether an append may move this instance's anchor: only from a chain
   * that still reaches it. An anchor the chain no longer reaches (entries cut
   * off, or replaced) stays where it is, and so does a missing one, so the
   * evidence stays for `verify` until an operator who has looked into it
   * writes the verified head into the file (docs/accountability.md). The first
   * anchor is made by the first append to an empty chain, or, for an instance
   * joining a running cluster, when a peer's anchor names the current head.
   */
  async function anchorHolds(tx: Tx, last: StoredEntry | undefined, readings: AnchorReading[]) {
    if (!last) return true;
    const [own, ...peers] = readings;
    const a = own?.anchor;
    if (a) {
      if (!(a.seq <= last.seq)) return false;
      return (a.seq === last.seq ? last : await entryAt(tx, a.seq))?.hash === a.hash;
    }
    return peers.some((p) => p.anchor?.seq === last.seq && p.anchor.hash === last.hash);
  }

  /** What an append did to the anchor, so a failed commit can undo it. */
  interface AnchorMove {
    written: Anchor;
    previous: Anchor | undefined;
  }

  // Called with the chain's lock held. The anchor is written before the
  // commit, still under the lock, so anchors move in the chain's order even
  // across instances; should the commit fail, `append` puts it back.
  async function appendLocked(tx: Tx, input: AuditInput, moves: AnchorMove[]): Promise<AuditEntry> {
    const last = await lastEntry(tx);
    const readings = options.anchorFile ? await anchors.readAll() : [];
    const move = options.anchorFile !== undefined && (await anchorHolds(tx, last, readings));
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
    if (move) {
      const written = { seq: base.seq, hash };
      await anchors.write(written);
      moves.push({ written, previous: readings[0]?.anchor });
    }
    return { ...base, detail: input.detail ?? {}, hash };
  }

  /** Runs `op` under the chain's lock; if it fails (its commit included), anchors it moved go back. */
  async function appending<T>(op: (tx: Tx, moves: AnchorMove[]) => Promise<T>): Promise<T> {
    const moves: AnchorMove[] = [];
    try {
      return await locked((tx) => op(tx, moves));
    } catch (err) {
      for (const m of moves.reverse()) await anchors.restore(m.written, m.previous);
      throw err;
    }
  }

  const locked = <T>(op: (tx: Tx) => Promise<T>): Promise<T> =>
    sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
      return op(tx);
    });

  return {
    /** Appends one entry after the current head, atomically; returns it with its hash. */
    append: (input: AuditInput): Promise<AuditEntry> =>
      appending((tx, moves) => appendLocked(tx, input, moves)),

    /**
     * A chain written before the audit key existed begins with entries hashed
     * with plain SHA-256. If that old part is intact (every link, every hash)
     * and this instance's anchor names an entry of the chain, one keyed
     * `audit.keyed` entry, appended at the end, seals it: its HMAC covers the
     * old part's length and last hash, so the old part can no longer change
     * unseen. A broken old part, or a missing or wrong anchor, is left for
     * `verify` to report; once the anchor is put right, the next start seals.
     */
    async sealLegacyChain(): Promise<{ sealed: boolean; refused?: string }> {
      return appending(async (tx, moves) => {
        const [first] = (await tx.query<Row>(`SELECT ${COLUMNS} FROM audit_log ORDER BY seq LIMIT 1`)).map(
          stored,
        );
        if (!first || entryMac(key, first) === first.hash) return { sealed: false };
        if (legacyHash(first) !== first.hash)
          return {
            sealed: false,
            refused: `entry ${first.seq}, the first, carries neither this audit key's HMAC nor a plain SHA-256 (another audit key, or edited)`,
          };
        // Sealed already (verify checks the seal itself): nothing to walk.
        const seals = await tx.query<Row>(
          `SELECT ${COLUMNS} FROM audit_log WHERE action = $1 AND actor = 'system' ORDER BY seq`,
          [SEAL_ACTION],
        );
        if (seals.map(stored).some((r) => entryMac(key, r) === r.hash)) return { sealed: false };
        // The old part: entries up to the first keyed one.
        let prevHash = GENESIS;
        let seq = 1;
        let prefixEnd = 0;
        let prefixHead = GENESIS;
        let seal: StoredEntry | undefined;
        walk: for (;;) {
          const rows = await tx.query<Row>(
            `SELECT ${COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2`,
            [seq, PAGE],
          );
          for (const r of rows.map(stored)) {
            if (entryMac(key, r) === r.hash) {
              if (r.prevHash !== prevHash)
                return { sealed: false, refused: `entry ${r.seq} does not follow the one before it` };
              if (prefixEnd === 0) {
                prefixEnd = r.seq - 1;
                prefixHead = prevHash;
              }
              if (sealsPrefix(r, prefixEnd, prefixHead)) {
                seal = r;
                break walk;
              }
            } else if (
              prefixEnd > 0 ||
              r.seq !== seq ||
              r.prevHash !== prevHash ||
              legacyHash(r) !== r.hash
            ) {
              return { sealed: false, refused: `the old chain is broken at entry ${r.seq}` };
            }
            prevHash = r.hash;
            seq = r.seq + 1;
          }
          if (rows.length < PAGE) break;
        }
        if (seal) return { sealed: false };
        if (prefixEnd === 0) {
          prefixEnd = seq - 1;
          prefixHead = prevHash;
        }
        if (options.anchorFile) {
          const readings = await anchors.readAll();
          if (!(await anchorHolds(tx, await lastEntry(tx), readings)))
            return {
              sealed: false,
              refused: readings[0]?.anchor
                ? `the chain does not reach its anchor (${readings[0].anchor.seq})`
                : 'anchor missing',
            };
        }
        await appendLocked(
          tx,
          {
            actor: 'system',
            action: SEAL_ACTION,
            detail: { legacyEntries: prefixEnd, legacyHead: prefixHead },
          },
          moves,
        );
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
