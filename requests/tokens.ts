import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SkjoldError } from '../lib/errors.ts';
import type { SqlClient } from '../registry/sql.ts';

/**
 * What a tenant token may do. Issued by the operator, each token carries the
 * least it needs (art. 25, art. 32: access control).
 */
export const TOKEN_SCOPES = [
  'requests', // file, list and extend requests
  'subjects:write', // link and rectify (art. 16), restrict (art. 18), object / withdraw consent (art. 21, 7(3)), special-category notes
  'subjects:export', // a subject's export (art. 15, 20)
  'subjects:erase', // erasure (art. 17)
  'tenant:export', // the whole tenant's data (art. 28(3)(g))
  'telemetry:read', // the tenant's own telemetry: queries and the console's charts (restricted subjects left out)
] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface TenantToken {
  id: string;
  tenantId: string;
  scopes: TokenScope[];
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
}

/** Why a token was refused: the metric's label. Refusals all look the same to the caller. */
export type TokenRefusal = 'missing' | 'invalid' | 'revoked' | 'scope';

const PREFIX = 'skjt_';
const digest = (token: string) => createHash('sha256').update(token).digest('hex');
const COLUMNS = `id, tenant_id AS "tenantId", scopes, label, created_at::text AS "createdAt",
  revoked_at::text AS "revokedAt"`;

interface Row extends Omit<TenantToken, 'scopes'> {
  scopes: string;
}
const fromRow = (r: Row): TenantToken => ({ ...r, scopes: r.scopes.split(' ') as TokenScope[] });

/**
 * Tenant API tokens: 256 random bits, shown once, stored as SHA-256 (a
 * token is a random secret, not a password: one hash is enough and lets the
 * lookup be an index hit).
 */
export function createTenantTokens(sql: SqlClient) {
  return {
    async issue(
      tenantId: string,
      scopes: readonly TokenScope[],
      label?: string,
    ): Promise<TenantToken & { token: string }> {
      const unknown = scopes.filter((s) => !(TOKEN_SCOPES as readonly string[]).includes(s));
      if (scopes.length === 0 || unknown.length > 0) {
        throw new SkjoldError('SKJOLD_ERR_VALIDATION', `scopes must be some of ${TOKEN_SCOPES.join(', ')}`);
      }
      const id = `tok-${randomUUID()}`;
      const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
      await sql
        .query(
          'INSERT INTO tenant_tokens (id, tenant_id, token_hash, scopes, label) VALUES ($1, $2, $3, $4, $5)',
          [id, tenantId, digest(token), [...new Set(scopes)].join(' '), label ?? null],
        )
        .catch((err: unknown) => {
          if ((err as { code?: string }).code === '23503')
            throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'tenant', { cause: err });
          throw new SkjoldError('SKJOLD_ERR_REGISTRY', 'tenant token', { cause: err });
        });
      const [row] = await sql.query<Row>(`SELECT ${COLUMNS} FROM tenant_tokens WHERE id = $1`, [id]);
      return { ...fromRow(row as Row), token };
    },

    list(tenantId: string): Promise<TenantToken[]> {
      return sql
        .query<Row>(`SELECT ${COLUMNS} FROM tenant_tokens WHERE tenant_id = $1 ORDER BY created_at, id`, [
          tenantId,
        ])
        .then((rows) => rows.map(fromRow));
    },

    async revoke(tenantId: string, id: string, at: Date): Promise<void> {
      const rows = await sql.query(
        'UPDATE tenant_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING id',
        [tenantId, id, at.toISOString()],
      );
      if (rows.length === 0) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'active token');
    },

    /** The token's record, or why it is refused. */
    async verify(token: string | undefined): Promise<TenantToken | TokenRefusal> {
      if (!token) return 'missing';
      if (!token.startsWith(PREFIX)) return 'invalid';
      const [row] = await sql.query<Row>(`SELECT ${COLUMNS} FROM tenant_tokens WHERE token_hash = $1`, [
        digest(token),
      ]);
      if (!row) return 'invalid';
      if (row.revokedAt) return 'revoked';
      return fromRow(row);
    },
  };
}

export type TenantTokens = ReturnType<typeof createTenantTokens>;
