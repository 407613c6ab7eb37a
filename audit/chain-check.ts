import type { Anchor, AnchorReading } from './anchors.ts';
import { entryMac, GENESIS, type HashedFields, legacyHash } from './entry-hash.ts';

export type AuditProblemKind =
  | 'edited'
  | 'unkeyed'
  | 'unlinked'
  | 'gap'
  | 'truncated'
  | 'unanchored'
  | 'anchor-missing'
  | 'anchor-mismatch';

export interface AuditProblem {
  seq: number;
  kind: AuditProblemKind;
  problem: string;
}

export interface StoredEntry extends HashedFields {
  hash: string;
}

/** The entry that seals a chain's SHA-256 prefix under the audit key (docs/accountability.md). */
export const SEAL_ACTION = 'audit.keyed';

/** Whether a keyed entry is the seal of the old prefix `prefixEnd` entries long, ending in `prefixHead`. */
export function sealsPrefix(e: HashedFields, prefixEnd: number, prefixHead: string): boolean {
  if (e.action !== SEAL_ACTION || e.actor !== 'system') return false;
  try {
    const d = JSON.parse(e.detail) as { legacyEntries?: unknown; legacyHead?: unknown };
    return d.legacyEntries === prefixEnd && d.legacyHead === prefixHead;
  } catch {
    return false;
  }
}

/**
 * Walks a chain entry by entry. Every entry must carry the HMAC of its
 * content under the audit key and follow the one before it. Entries hashed
 * the old way (plain SHA-256) are accepted only as the chain's first entries,
 * and only once a keyed `audit.keyed` entry later in the chain seals them by
 * naming their number and the last one's hash; anywhere else they are what
 * someone without the key would write.
 */
export function createChainCheck(key: Buffer, anchors: AnchorReading[]) {
  const problems: AuditProblem[] = [];
  const byFile = anchors.filter((a): a is { file: string; anchor: Anchor } => a.anchor !== undefined);
  let expectedSeq = 1;
  let prevHash = GENESIS;
  let keyedSeen = false;
  const legacy: number[] = [];
  // The old prefix: entries before the first keyed one, and the last one's hash.
  let prefixEnd = 0;
  let prefixHead = GENESIS;
  let sealed = false;
  let head: { seq: number; hash: string } | null = null;
  let entries = 0;

  const unkeyed = (seq: number) =>
    problems.push({
      seq,
      kind: 'unkeyed',
      problem:
        'hashed without the audit key and not sealed by it (forged, or written by someone without the key)',
    });

  return {
    add(e: StoredEntry): void {
      const { seq } = e;
      if (seq !== expectedSeq) {
        problems.push({ seq, kind: 'gap', problem: `entries ${expectedSeq}–${seq - 1} are missing` });
      }
      if (e.prevHash !== prevHash) {
        problems.push({
          seq,
          kind: 'unlinked',
          problem: 'does not follow the entry before it (removed or reordered)',
        });
      }
      if (entryMac(key, e) === e.hash) {
        if (!keyedSeen) {
          prefixEnd = seq - 1;
          prefixHead = prevHash;
          keyedSeen = true;
        }
        if (legacy.length > 0 && sealsPrefix(e, prefixEnd, prefixHead)) sealed = true;
      } else if (legacyHash(e) === e.hash) {
        if (keyedSeen) unkeyed(seq);
        else legacy.push(seq);
      } else {
        problems.push({
          seq,
          kind: 'edited',
          problem: 'content does not match its hash (edited, or written without the audit key)',
        });
      }
      for (const a of byFile) {
        if (a.anchor.seq === seq && a.anchor.hash !== e.hash) {
          problems.push({
            seq,
            kind: 'anchor-mismatch',
            problem: `differs from the anchored entry (anchor ${a.file})`,
          });
        }
      }
      prevHash = e.hash;
      expectedSeq = seq + 1;
      head = { seq, hash: e.hash };
      entries++;
    },

    /** The problems found, once every entry up to the head has been added. */
    finish(anchorsKept: boolean) {
      if (!sealed) for (const s of legacy) unkeyed(s);
      const last = head as { seq: number; hash: string } | null;
      const headSeq = last?.seq ?? 0;
      if (anchorsKept && last !== null) {
        for (const a of anchors) {
          if (a.anchor === undefined) {
            problems.push({
              seq: 0,
              kind: 'anchor-missing',
              problem: `anchor missing: ${a.file} does not exist but the chain has ${entries} entries`,
            });
          }
        }
      }
      for (const a of byFile) {
        if (!Number.isInteger(a.anchor.seq) || a.anchor.seq < 1) {
          problems.push({ seq: 0, kind: 'anchor-mismatch', problem: `anchor ${a.file} is unreadable` });
        } else if (a.anchor.seq > headSeq) {
          problems.push({
            seq: a.anchor.seq,
            kind: 'truncated',
            problem: `the chain ends at ${headSeq} but the anchor ${a.file} records ${a.anchor.seq}: entries were removed from the end`,
          });
        }
      }
      // Every append moves an anchor while it holds the chain's lock: entries
      // past the newest anchor were not appended by Skjold.
      const newest = Math.max(0, ...byFile.map((a) => (Number.isInteger(a.anchor.seq) ? a.anchor.seq : 0)));
      if (anchorsKept && byFile.length > 0 && newest < headSeq) {
        for (let seq = newest + 1; seq <= headSeq; seq++) {
          problems.push({
            seq,
            kind: 'unanchored',
            problem: `after the newest anchored entry (${newest}): appended without moving any anchor`,
          });
        }
      }
      problems.sort((a, b) => a.seq - b.seq);
      return { problems, head: last, entries };
    },
  };
}
