import { createHash, randomBytes } from 'node:crypto';
import { hashSecret, verifySecret } from '../broker/credentials.ts';
import type { Clock } from '../lib/clock.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { SqlClient } from '../registry/sql.ts';
import type { TokenScope } from '../requests/tokens.ts';

export const CONSOLE_ROLES = ['operator', 'tenant_admin', 'tenant_dpo'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

/**
 * What a tenant user's role may do, in token scopes. Art. 25 / 32: the DPO
 * answers subjects' requests and reads telemetry; only the admin takes the
 * whole tenant's data out (art. 28(3)(g)).
 */
export const ROLE_SCOPES: Record<Exclude<ConsoleRole, 'operator'>, readonly TokenScope[]> = {
  tenant_admin: [
    'requests',
    'subjects:write',
    'subjects:export',
    'subjects:erase',
    'tenant:export',
    'telemetry:read',
  ],
  tenant_dpo: ['requests', 'subjects:write', 'subjects:export', 'subjects:erase', 'telemetry:read'],
};

export interface ConsoleUser {
  username: string;
  role: ConsoleRole;
  tenantId: string | null;
  createdAt: string;
  disabledAt: string | null;
}

export interface ConsoleSession {
  user: ConsoleUser;
  csrfToken: string;
  expiresAt: string;
}

const SESSION_HOURS = 8;
const CODE_MINUTES = 15;
const digest = (secret: string) => createHash('sha256').update(secret).digest('hex');
const USER_COLUMNS = `u.username, u.role, u.tenant_id AS "tenantId", u.created_at::text AS "createdAt",
  u.disabled_at::text AS "disabledAt"`;

/**
 * Console users and their sessions, in the registry so every instance knows
 * them. A session id is 256 random bits held only by the browser (HttpOnly
 * cookie); the registry keeps its SHA-256, like tenant tokens.
 */
export function createConsoleUsers(sql: SqlClient, clock: Clock) {
  const plus = (ms: number) => new Date(clock().getTime() + ms).toISOString();

  return {
    async create(input: {
      username: string;
      role: ConsoleRole;
      tenantId?: string | null;
      password?: string;
    }): Promise<ConsoleUser> {
      const tenantId = input.role === 'operator' ? null : (input.tenantId ?? null);
      if (input.role !== 'operator' && !tenantId)
        throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'a tenant user names its tenant');
      const hash = input.password ? await hashSecret(input.password) : null;
      await sql
        .query(
          'INSERT INTO console_users (username, role, tenant_id, password_hash) VALUES ($1, $2, $3, $4)',
          [input.username, input.role, tenantId, hash],
        )
        .catch((err: unknown) => {
          const code = (err as { code?: string }).code;
          if (code === '23505') throw new SkjoldError('SKJOLD_ERR_CONFLICT', 'user', { cause: err });
          if (code === '23503') throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'tenant', { cause: err });
          throw new SkjoldError('SKJOLD_ERR_REGISTRY', 'console user', { cause: err });
        });
      return (await this.get(input.username)) as ConsoleUser;
    },

    async get(username: string): Promise<ConsoleUser | undefined> {
      const [row] = await sql.query<ConsoleUser>(
        `SELECT ${USER_COLUMNS} FROM console_users u WHERE u.username = $1`,
        [username],
      );
      return row;
    },

    list(tenantId?: string): Promise<ConsoleUser[]> {
      return tenantId
        ? sql.query<ConsoleUser>(
            `SELECT ${USER_COLUMNS} FROM console_users u WHERE u.tenant_id = $1 ORDER BY u.username`,
            [tenantId],
          )
        : sql.query<ConsoleUser>(`SELECT ${USER_COLUMNS} FROM console_users u ORDER BY u.username`);
    },

    /** Disables the user and ends every session it has. */
    async disable(username: string): Promise<void> {
      const at = clock().toISOString();
      const rows = await sql.query(
        'UPDATE console_users SET disabled_at = $2 WHERE username = $1 AND disabled_at IS NULL RETURNING username',
        [username, at],
      );
      if (rows.length === 0) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'active user');
      await sql.query('UPDATE console_sessions SET ended_at = $2 WHERE username = $1 AND ended_at IS NULL', [
        username,
        at,
      ]);
    },

    /** The user, when the password is right and the user active; undefined otherwise (one answer for all). */
    async checkPassword(username: string, password: string): Promise<ConsoleUser | undefined> {
      const [row] = await sql.query<ConsoleUser & { hash: string | null }>(
        `SELECT ${USER_COLUMNS}, u.password_hash AS hash FROM console_users u WHERE u.username = $1`,
        [username],
      );
      // A missing user costs one scrypt too, so timing does not tell which usernames exist.
      const ok = await verifySecret(password, row?.hash ?? (await dummy()));
      if (!row || !ok || !row.hash || row.disabledAt) return undefined;
      const { hash: _hash, ...user } = row;
      return user;
    },

    /** A code that signs `username` in once, within CODE_MINUTES. */
    async issueCode(username: string): Promise<string> {
      const code = randomBytes(24).toString('base64url');
      await sql.query(
        'INSERT INTO console_signin_codes (code_hash, username, expires_at) VALUES ($1, $2, $3)',
        [digest(code), username, plus(CODE_MINUTES * 60_000)],
      );
      return code;
    },

    /** The user a code signs in, spending it; undefined for an unknown, used or expired code. */
    async redeemCode(code: string): Promise<ConsoleUser | undefined> {
      const now = clock().toISOString();
      const [row] = await sql.query<{ username: string }>(
        `UPDATE console_signin_codes SET used_at = $2
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING username`,
        [digest(code), now],
      );
      if (!row) return undefined;
      const user = await this.get(row.username);
      return user && !user.disabledAt ? user : undefined;
    },

    async startSession(user: ConsoleUser): Promise<{ id: string; session: ConsoleSession }> {
      const id = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(24).toString('base64url');
      const expiresAt = plus(SESSION_HOURS * 3_600_000);
      await sql.query(
        `INSERT INTO console_sessions (id_hash, username, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [digest(id), user.username, csrfToken, clock().toISOString(), expiresAt],
      );
      return { id, session: { user, csrfToken, expiresAt } };
    },

    /** The live session behind a cookie value, or undefined (unknown, ended, expired, user disabled). */
    async session(id: string | undefined): Promise<ConsoleSession | undefined> {
      if (!id || id.length > 100) return undefined;
      const [row] = await sql.query<ConsoleUser & { csrfToken: string; expiresAt: string }>(
        `SELECT ${USER_COLUMNS}, s.csrf_token AS "csrfToken", s.expires_at::text AS "expiresAt"
         FROM console_sessions s JOIN console_users u USING (username)
         WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND u.disabled_at IS NULL`,
        [digest(id), clock().toISOString()],
      );
      if (!row) return undefined;
      const { csrfToken, expiresAt, ...user } = row;
      return { user, csrfToken, expiresAt };
    },

    async endSession(id: string): Promise<void> {
      await sql.query('UPDATE console_sessions SET ended_at = $2 WHERE id_hash = $1 AND ended_at IS NULL', [
        digest(id),
        clock().toISOString(),
      ]);
    },
  };
}

export type ConsoleUsers = ReturnType<typeof createConsoleUsers>;

// A valid hash of a random secret nobody knows: what a missing user's password is checked against.
let dummyHash: Promise<string> | undefined;
const dummy = () => {
  dummyHash ??= hashSecret(randomBytes(16).toString('hex'));
  return dummyHash;
};
