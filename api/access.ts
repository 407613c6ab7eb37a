import type { FastifyRequest } from 'fastify';
import { SkjoldError } from '../lib/errors.ts';
import type { TokenScope } from '../requests/tokens.ts';

/**
 * Who may call a route. Every route declares one in its own options
 * (`{ config: { access } }`) or inherits it from the encapsulated plugin it is
 * registered in; a route that declares nothing is refused when the API is
 * built (deny by default). The decision is made from the route fastify
 * matched, never from the URL text: the router decodes what a string check
 * would see.
 *
 * - `public`: anyone (probes, the sign-in page, static assets).
 * - `metrics`: Prometheus: the scrape token when one is configured, otherwise
 *   callers on loopback only.
 * - `user`: anyone signed in to the console (operator or tenant user).
 * - `operator`: the operator, by API token or console session.
 * - `tenant`: a tenant, by scoped tenant token or console session; the tenant
 *   comes from the credential, never from the URL.
 */
export type Access =
  | { kind: 'public' }
  | { kind: 'metrics' }
  | { kind: 'user' }
  | { kind: 'operator' }
  | { kind: 'tenant'; scope: TokenScope };

export const PUBLIC: Access = Object.freeze({ kind: 'public' });
export const METRICS: Access = Object.freeze({ kind: 'metrics' });
export const USER: Access = Object.freeze({ kind: 'user' });
export const OPERATOR: Access = Object.freeze({ kind: 'operator' });
export const tenantAccess = (scope: TokenScope): Access => Object.freeze({ kind: 'tenant', scope });

/** Who a request was authenticated as. `actor` is what the audit log records. */
export type Principal =
  | { kind: 'operator'; actor: string }
  | { kind: 'tenant'; tenantId: string; scopes: readonly TokenScope[]; actor: string; tokenId?: string };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The authenticated tenant of a `tenant` route. */
export function tenantPrincipal(req: FastifyRequest): Extract<Principal, { kind: 'tenant' }> {
  const p = req.principal;
  if (p?.kind !== 'tenant') throw new SkjoldError('SKJOLD_ERR_AUTH');
  return p;
}
