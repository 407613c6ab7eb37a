import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { type Clock, systemClock } from '../lib/clock.ts';
import type { SqlClient } from '../registry/sql.ts';

/** What a caller records. `target` and `detail` hold pseudonyms and counts, never a raw identifier. */
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

export interface AuditProblem {
  seq: number;
  problem: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** seq and hash of the last entry: publish it elsewhere to anchor the chain. */
  head: { seq: number; hash: string } | null;
  problems: AuditProblem[];
}

/** The hash before the first entry. */
export const GENESIS = '0'.repeat(64);
// Any constant: appends from several instances take turns.
const LOCK_ID = 7_245_002;
const PAGE = 1000;

/** JSON with object keys sorted at every depth: one text per value, so one hash. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function entryHash(e: Omit<AuditEntry, 'hash' | 'detail'> & { detail: string }): string {
  const body = [e.seq, e.at, e.actor, e.action, e.tenantId, e.target, e.detail, e.prevHash];
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

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

function fromRow(r: Row): AuditEntry {
  return { ...r, seq: Number(r.seq), detail: JSON.parse(r.detail) as Record<string, unknown> };
}

export interface AuditLogOptions {
  clock?: Clock;
  /**
   * A file outside the registry that holds the newest (seq, hash). With it,
   * `verify` also notices entries cut from the end of the chain, which the
   * chain alone cannot show.
   */
  anchorFile?: string;
}

/**
 * The audit log: every retention action, data-subject request, export,
 * erasure, key rotation and tenant-token use, in one hash chain.
 */
export function createAuditLog(sql: SqlClient, options: AuditLogOptions = {}) {
  const clock = options.clock ?? systemClock;
  const anchorFile = options.anchorFile;

  // Appends in this process write the anchor one at a time, newest last.
  let anchorWrites: Promise<void> = Promise.resolve();
  function writeAnchor(head: { seq: number; hash: string }): Promise<void> {
    anchorWrites = anchorWrites.then(() => replaceAnchor(head));
    return anchorWrites;
  }

  async function replaceAnchor(head: { seq: number; hash: string }): Promise<void> {
    if (!anchorFile) return;
    const current = await readAnchor();
    if (current && current.seq >= head.seq) return; // another append got there first
    const tmp = `${anchorFile}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(head)}\n`, { mode: 0o600 });
    await rename(tmp, anchorFile);
  }

  async function readAnchor(): Promise<{ seq: number; hash: string } | undefined> {
    if (!anchorFile) return undefined;
    try {
      return JSON.parse(await readFile(anchorFile, 'utf8')) as { seq: number; hash: string };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  return {
    /** Appends one entry after the current head, atomically; returns it with its hash. */
    async append(input: AuditInput): Promise<AuditEntry> {
      const entry = await sql.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
        const [last] = await tx.query<{ seq: string | number; hash: string }>(
          'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
        );
        const base = {
          seq: last ? Number(last.seq) + 1 : 1,
          at: clock().toISOString(),
          actor: input.actor,
          action: input.action,
          tenantId: input.tenantId ?? null,
          target: input.target ?? null,
          detail: canonicalJson(input.detail ?? {}),
          prevHash: last?.hash ?? GENESIS,
        };
        const hash = entryHash(base);
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
        return { ...base, detail: input.detail ?? {}, hash };
      });
      await writeAnchor({ seq: entry.seq, hash: entry.hash });
      return entry;
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
     * Walks the whole chain: every entry's hash must match its content, its
     * prev_hash the entry before it, and seq must run 1, 2, 3… without a gap.
     */
    async verify(): Promise<AuditVerification> {
      const problems: AuditProblem[] = [];
      let expectedSeq = 1;
      let prevHash = GENESIS;
      let head: { seq: number; hash: string } | null = null;
      let entries = 0;
      const anchor = await readAnchor();
      for (;;) {
        const rows = await sql.query<Row>(
          `SELECT ${COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2`,
          [expectedSeq, PAGE],
        );
        for (const r of rows) {
          const seq = Number(r.seq);
          if (seq !== expectedSeq) {
            problems.push({ seq, problem: `entries ${expectedSeq}–${seq - 1} are missing` });
          }
          if (r.prevHash !== prevHash) {
            problems.push({ seq, problem: 'does not follow the entry before it (removed or reordered)' });
          }
          if (entryHash({ ...r, seq }) !== r.hash) {
            problems.push({ seq, problem: 'content does not match its hash (edited)' });
          }
          if (anchor && seq === anchor.seq && r.hash !== anchor.hash) {
            problems.push({ seq, problem: 'differs from the anchored entry' });
          }
          prevHash = r.hash;
          expectedSeq = seq + 1;
          head = { seq, hash: r.hash };
          entries++;
        }
        if (rows.length < PAGE) break;
      }
      if (anchor && (head?.seq ?? 0) < anchor.seq) {
        problems.push({
          seq: anchor.seq,
          problem: `the chain ends at ${head?.seq ?? 0} but the anchor records ${anchor.seq}: entries were removed from the end`,
        });
      }
      return { ok: problems.length === 0, entries, head, problems };
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
