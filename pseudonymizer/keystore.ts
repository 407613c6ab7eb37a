import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { z } from 'zod';
import { SkjoldError } from '../lib/errors.ts';
import { readKeyFile, writeAtomically } from './key-file.ts';

/**
 * Versioned per-tenant pseudonymisation secrets.
 *
 * Art. 4(5): pseudonymisation — "the additional information is kept
 * separately": the secrets live in their own file (or environment variable),
 * never in the registry, the telemetry store or Kafka, so whoever holds the
 * data does not by that alone hold the means to re-identify it. One secret per
 * tenant makes each tenant a separate pseudonymisation domain: the same SIM has
 * unrelated pseudonyms under two tenants. Old versions are kept after a
 * rotation so data written under them can still be found for Art. 15/17
 * requests; destroying a version is what anonymises what it protected.
 *
 * File format: { "format": 1, "tenants": { "<id>": { "current": 2,
 *   "keys": { "1": "<base64 32 bytes>", "2": "…" }, "created": { "1": "<ISO>" } } } }
 * (`created` is optional.) One process writes a file; another sees its
 * changes when it reopens the store.
 *
 * Besides the tenants, two operator domains whose ids start with '_' (no
 * tenant id can): `_login` (device logins) and `_audit`, the key of the
 * audit log's HMAC chain (art. 5(2), art. 32(1)(b)): kept here, apart from the
 * registry, so write access to the registry alone cannot forge entries.
 */

/** The audit chain's key domain; version 1 only, so the whole chain verifies under one key. */
export const AUDIT_DOMAIN = '_audit';
// registry/enrolment.ts's LOGIN_DOMAIN. SKJOLD_KEYS from before the audit key existed derives the
// audit key from this domain's key, so every instance that shares the value derives the same one.
const LEGACY_LOGIN_DOMAIN = '_login';

export interface KeyStoreOptions {
  /** Path of the key file; created (0600, directory 0700) when absent. */
  file?: string;
  /** Contents of SKJOLD_KEYS: the same JSON, or base64 of it. Wins over `file`; read-only. */
  envValue?: string;
  /** Clock for the `created` time of new versions. */
  now?: () => Date;
}

export interface KeyStoreSummary {
  source: 'file' | 'env';
  readOnly: boolean;
  tenants: Record<string, { current: number; versions: number[] }>;
}

export interface KeyStore {
  readonly readOnly: boolean;
  /** Creates version 1 for a tenant that has no keys yet. */
  ensureTenant(tenantId: string): Promise<void>;
  currentVersion(tenantId: string): number;
  /** Every version held for the tenant, ascending. */
  versions(tenantId: string): number[];
  /** When a version was created, if the store recorded it. */
  createdAt(tenantId: string, version: number): Date | undefined;
  /** Adds a new version and makes it current; older versions stay readable. Returns the new version. */
  rotate(tenantId: string): Promise<number>;
  /** The secret itself (a copy). For the pseudonymizer only: never log, store or send it. */
  secret(tenantId: string, version: number): Buffer;
  /**
   * The audit chain's HMAC key. A key file without one gets one added; a
   * read-only SKJOLD_KEYS without one derives it (HKDF) from its `_login` key.
   * Never log, store or send it.
   */
  auditKey(): Promise<Buffer>;
  /** Tenants and versions only: the secrets are not reachable from the object at all. */
  toJSON(): KeyStoreSummary;
}

const SECRET_BYTES = 32;
// Registry tenant ids (a-z, 0-9, '-') fit, and operator domains such as
// registry's '_login'; '__proto__' does not, so plain objects stay safe.
const TENANT_ID = /^(?!__proto__$)[A-Za-z0-9_][A-Za-z0-9._:-]{0,127}$/;
const VERSION_KEY = /^[1-9]\d{0,8}$/;

const fileSchema = z.strictObject({
  format: z.literal(1),
  tenants: z.record(
    z.string().regex(TENANT_ID),
    z.strictObject({
      current: z.int().positive(),
      keys: z.record(z.string().regex(VERSION_KEY), z.string()),
      created: z.record(z.string().regex(VERSION_KEY), z.iso.datetime({ offset: true })).optional(),
    }),
  ),
});

interface TenantKeys {
  current: number;
  keys: ReadonlyMap<number, Buffer>;
  created: ReadonlyMap<number, string>;
}

// Errors name the source, the tenant and the version, never key material:
// JSON.parse and decoder messages quote their input, so they are not chained.
function keysError(detail: string): SkjoldError {
  return new SkjoldError('SKJOLD_ERR_KEYS', detail);
}

// The format's own names; any other path segment is text from the value.
const FORMAT_NAMES = new Set(['format', 'tenants', 'current', 'keys', 'created']);

/**
 * A zod issue as its place in the format and its code only. zod's messages
 * and paths quote the input (`Unrecognized key: "…"`, a record key that fails
 * its pattern), and a misplaced secret is input: art. 32(1), a malformed
 * SKJOLD_KEYS must not end up in a log or a crash report.
 */
function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => (typeof p === 'string' && FORMAT_NAMES.has(p) ? p : '*')).join('.');
  return `${path || '(root)'}: ${issue.code}`;
}

function decode(raw: unknown, source: string): Map<string, TenantKeys> {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map(describeIssue);
    throw keysError(`${source} is not a valid key store (${issues.join('; ')})`);
  }
  const tenants = new Map<string, TenantKeys>();
  for (const [id, t] of Object.entries(parsed.data.tenants)) {
    const keys = new Map<number, Buffer>();
    for (const [v, b64] of Object.entries(t.keys)) {
      const secret = Buffer.from(b64, 'base64');
      // Round-tripping rejects text that Buffer would silently half-decode.
      if (secret.length !== SECRET_BYTES || secret.toString('base64') !== b64) {
        throw keysError(`${source}: key ${v} of tenant ${id} is not ${SECRET_BYTES} bytes of base64`);
      }
      keys.set(Number(v), secret);
    }
    if (!keys.has(t.current)) throw keysError(`${source}: tenant ${id} has no key for its current version`);
    const created = new Map(Object.entries(t.created ?? {}).map(([v, at]) => [Number(v), at] as const));
    tenants.set(id, { current: t.current, keys, created });
  }
  return tenants;
}

function encode(tenants: ReadonlyMap<string, TenantKeys>): string {
  const out: Record<string, unknown> = {};
  for (const [id, t] of tenants) {
    out[id] = {
      current: t.current,
      keys: Object.fromEntries([...t.keys].map(([v, s]) => [String(v), s.toString('base64')])),
      created: Object.fromEntries([...t.created].map(([v, at]) => [String(v), at])),
    };
  }
  return `${JSON.stringify({ format: 1, tenants: out }, null, 2)}\n`;
}

/** SKJOLD_KEYS as JSON (or base64 JSON); the parser's message, which quotes the text, is dropped. */
export function parseEnvValue(value: string): unknown {
  const text = value.trim();
  const json = text.startsWith('{') ? text : Buffer.from(text, 'base64').toString('utf8');
  try {
    return JSON.parse(json);
  } catch {
    throw keysError('SKJOLD_KEYS is neither JSON nor base64-encoded JSON');
  }
}

export async function openKeyStore(options: KeyStoreOptions = {}): Promise<KeyStore> {
  const now = options.now ?? (() => new Date());
  const { file, envValue } = options;
  const fromEnv = envValue !== undefined && envValue.trim() !== '';
  let tenants: Map<string, TenantKeys>;
  if (fromEnv) {
    tenants = decode(parseEnvValue(envValue), 'SKJOLD_KEYS');
  } else if (file !== undefined) {
    const raw = await readKeyFile(file);
    if (raw === undefined) {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      tenants = new Map();
      await writeAtomically(file, encode(tenants));
    } else {
      tenants = decode(raw, `key file ${file}`);
    }
  } else {
    throw keysError('no key source: give a key file or SKJOLD_KEYS');
  }

  const readOnlyError = (): SkjoldError =>
    keysError('keys come from SKJOLD_KEYS and are read-only here; rotate them by changing the variable');

  // Mutations run one at a time: each builds the next state, persists it and
  // only then publishes it, so a failed write changes nothing in memory.
  let queue: Promise<unknown> = Promise.resolve();
  const mutate = <T>(op: () => Promise<T>): Promise<T> => {
    const run = queue.then(op, op);
    queue = run.catch(() => undefined);
    return run;
  };
  const commit = async (tenantId: string, entry: TenantKeys): Promise<void> => {
    const next = new Map(tenants).set(tenantId, entry);
    if (!fromEnv && file !== undefined) await writeAtomically(file, encode(next));
    tenants = next;
  };

  const checkId = (tenantId: string): void => {
    if (typeof tenantId !== 'string' || !TENANT_ID.test(tenantId)) throw keysError('invalid tenant id');
  };
  const tenant = (tenantId: string): TenantKeys => {
    checkId(tenantId);
    const t = tenants.get(tenantId);
    if (t === undefined) throw keysError(`no keys for tenant ${tenantId}`);
    return t;
  };

  const summary = (): KeyStoreSummary => ({
    source: fromEnv ? 'env' : 'file',
    readOnly: fromEnv,
    tenants: Object.fromEntries(
      [...tenants].map(([id, t]) => [
        id,
        { current: t.current, versions: [...t.keys.keys()].sort((a, b) => a - b) },
      ]),
    ),
  });

  const store: KeyStore = {
    readOnly: fromEnv,
    async ensureTenant(tenantId) {
      checkId(tenantId);
      if (tenants.has(tenantId)) return;
      if (fromEnv) throw readOnlyError();
      await mutate(async () => {
        if (tenants.has(tenantId)) return;
        await commit(tenantId, {
          current: 1,
          keys: new Map([[1, randomBytes(SECRET_BYTES)]]),
          created: new Map([[1, now().toISOString()]]),
        });
      });
    },
    currentVersion: (tenantId) => tenant(tenantId).current,
    versions: (tenantId) => [...tenant(tenantId).keys.keys()].sort((a, b) => a - b),
    createdAt(tenantId, version) {
      const at = tenant(tenantId).created.get(version);
      return at === undefined ? undefined : new Date(at);
    },
    rotate(tenantId) {
      if (fromEnv) return Promise.reject(readOnlyError());
      return mutate(async () => {
        const t = tenant(tenantId);
        const version = Math.max(...t.keys.keys()) + 1;
        await commit(tenantId, {
          current: version,
          keys: new Map(t.keys).set(version, randomBytes(SECRET_BYTES)),
          created: new Map(t.created).set(version, now().toISOString()),
        });
        return version;
      });
    },
    secret(tenantId, version) {
      const s = tenant(tenantId).keys.get(version);
      if (s === undefined)
        throw new SkjoldError('SKJOLD_ERR_KEY_VERSION', `tenant ${tenantId} has no key version ${version}`);
      return Buffer.from(s);
    },
    async auditKey() {
      const own = tenants.get(AUDIT_DOMAIN)?.keys.get(1);
      if (own) return Buffer.from(own);
      if (!fromEnv) {
        await store.ensureTenant(AUDIT_DOMAIN);
        return store.secret(AUDIT_DOMAIN, 1);
      }
      const login = tenants.get(LEGACY_LOGIN_DOMAIN)?.keys.get(1);
      if (!login)
        throw keysError(`SKJOLD_KEYS has neither an ${AUDIT_DOMAIN} nor a _login key to derive it from`);
      return Buffer.from(hkdfSync('sha256', login, 'skjold-audit', 'audit-chain:v1', SECRET_BYTES));
    },
    toJSON: summary,
  };
  // util.inspect (and so console and most loggers) shows the summary too.
  Object.defineProperty(store, inspect.custom, {
    value: () => `KeyStore ${inspect(summary(), { depth: 4 })}`,
  });
  return store;
}
