import { createTokenBucket, type TokenBucket } from './token-bucket.ts';

export interface SourceLimitOptions {
  /** Connection attempts per second from one source (burst 2×); 0: no per-source rate. */
  connectRate: number;
  /** Failed logins from one source within `failureWindowMs` before it is refused; 0: never refused. */
  maxFailures: number;
  /** How long failures are counted, and how long a source stays refused once it reached `maxFailures`. */
  failureWindowMs: number;
  /** Most sources remembered at once; the one seen least recently is forgotten first. */
  maxSources: number;
  now?: () => number;
}

interface Entry {
  bucket: TokenBucket | undefined;
  failures: number;
  windowStart: number;
  blockedUntil: number;
}

export type Admission = 'ok' | 'blocked' | 'rate';

/**
 * Per-source connection limits for the broker: a token bucket of connection
 * attempts per source, and a block on a source that failed to log in
 * `maxFailures` times within the window, so it costs no password hash (scrypt)
 * until the window has passed. One source cannot use up the broker-wide
 * connection rate or the hashing threads that other devices need. The table
 * is a bounded LRU: a flood from many addresses costs at most `maxSources`
 * entries.
 */
export function createSourceLimit(options: SourceLimitOptions) {
  const { connectRate, maxFailures, failureWindowMs, maxSources } = options;
  const now = options.now ?? Date.now;
  const table = new Map<string, Entry>();

  /** The source's entry, made most recently used (Map keeps insertion order). */
  function touch(source: string): Entry {
    let entry = table.get(source);
    if (entry) table.delete(source);
    else {
      entry = {
        bucket: connectRate > 0 ? createTokenBucket(connectRate, connectRate * 2, now) : undefined,
        failures: 0,
        windowStart: now(),
        blockedUntil: 0,
      };
      if (table.size >= maxSources) {
        const oldest = table.keys().next();
        if (!oldest.done) table.delete(oldest.value);
      }
    }
    table.set(source, entry);
    return entry;
  }

  function isBlocked(entry: Entry): boolean {
    if (entry.blockedUntil === 0) return false;
    if (now() < entry.blockedUntil) return true;
    entry.blockedUntil = 0;
    entry.failures = 0;
    entry.windowStart = now();
    return false;
  }

  return {
    /** At a new TCP connection from `source`: let it in, or say why not. */
    admit(source: string): Admission {
      if (connectRate === 0 && maxFailures === 0) return 'ok';
      const entry = touch(source);
      if (isBlocked(entry)) return 'blocked';
      if (entry.bucket && !entry.bucket.tryTake()) return 'rate';
      return 'ok';
    },

    /** Whether `source` is refused for failed logins now (checked again at CONNECT, before any hash). */
    blocked(source: string): boolean {
      const entry = table.get(source);
      return entry ? isBlocked(entry) : false;
    },

    /** Records a failed login from `source`; true when this one blocks it. */
    failed(source: string): boolean {
      if (maxFailures === 0) return false;
      const entry = touch(source);
      if (isBlocked(entry)) return false;
      const t = now();
      if (t - entry.windowStart >= failureWindowMs) {
        entry.failures = 0;
        entry.windowStart = t;
      }
      entry.failures += 1;
      if (entry.failures < maxFailures) return false;
      entry.blockedUntil = t + failureWindowMs;
      return true;
    },

    /** Sources remembered now. */
    size(): number {
      return table.size;
    },
  };
}

export type SourceLimit = ReturnType<typeof createSourceLimit>;

/**
 * The source a connection is counted under: the IPv4 address (also when it
 * arrives IPv4-mapped), or the IPv6 /64 — one subscriber's network
 * (RFC 6177), inside which an attacker may pick any address.
 */
export function sourceOf(address: string | undefined): string {
  if (!address) return 'unknown';
  const bare = address.split('%')[0] ?? address; // zone index
  if (!bare.includes(':')) return bare;
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(bare)) return bare.slice(7);
  const [head = '', tail] = bare.split('::');
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? front : [...front, ...Array(8 - front.length - back.length).fill('0'), ...back];
  const prefix = groups.slice(0, 4).map((g) => Number.parseInt(g || '0', 16).toString(16));
  return `${prefix.join(':')}::/64`;
}
