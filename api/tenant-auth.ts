import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SkjoldError } from '../lib/errors.ts';
import type { RequestMetrics } from '../requests/metrics.ts';
import type { TenantToken, TenantTokens, TokenScope } from '../requests/tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    tenantToken?: TenantToken;
  }
}

/** The tenant a request acts for, from its token: a tenant never names itself in the URL. */
export function tenantOf(req: FastifyRequest): TenantToken {
  const token = req.tenantToken;
  if (!token) throw new SkjoldError('SKJOLD_ERR_AUTH');
  return token;
}

/** `tenant:<tenant>/<token id>`: the audit log's actor for a tenant's action. */
export const actorOf = (t: TenantToken) => `tenant:${t.tenantId}/${t.id}`;

/**
 * Every route of the scope this is added to needs a tenant token (Bearer).
 * Missing, unknown and revoked tokens get one answer (401), a token without
 * the route's scope 403; each refusal is counted by reason.
 */
export function addTenantAuth(scope: FastifyInstance, tokens: TenantTokens, metrics: RequestMetrics): void {
  scope.addHook('onRequest', async (req) => {
    const header = req.headers.authorization ?? '';
    const verified = await tokens.verify(header.startsWith('Bearer ') ? header.slice(7) : undefined);
    if (typeof verified === 'string') {
      metrics.tenantAuthRefused.inc({ reason: verified });
      throw new SkjoldError('SKJOLD_ERR_AUTH');
    }
    req.tenantToken = verified;
  });
}

/** Checks the token's scope before anything is looked up, so a refusal reveals nothing. */
export function requireScope(req: FastifyRequest, metrics: RequestMetrics, scope: TokenScope): TenantToken {
  const token = tenantOf(req);
  if (!token.scopes.includes(scope)) {
    metrics.tenantAuthRefused.inc({ reason: 'scope' });
    throw new SkjoldError('SKJOLD_ERR_SCOPE', scope);
  }
  return token;
}
