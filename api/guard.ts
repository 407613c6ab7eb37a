import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { SkjoldError } from '../lib/errors.ts';
import type { TenantTokens } from '../requests/tokens.ts';
import type { Access, Principal } from './access.ts';
import { type ConsoleSession, type ConsoleUsers, ROLE_SCOPES } from './console-users.ts';
import type { FailureLimiter } from './failure-limit.ts';

export const SESSION_COOKIE = 'skjold_session';
const SAFE_METHODS = new Set(['GET', 'HEAD']);
/** Refusals that are no failed authentication: they do not count towards SKJOLD_API_AUTH_FAILURES. */
const UNGUESSED = new Set(['missing', 'kind', 'not_loopback']);
const digest = (s: string) => createHash('sha256').update(s).digest();
const sameSecret = (given: string, expected: Buffer) => timingSafeEqual(digest(given), expected);

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session the request came with, when it came with one. */
    consoleSession?: { id: string; session: ConsoleSession };
  }
}

export interface GuardDeps {
  operatorToken: string;
  /** When set, Prometheus sends it as a Bearer token; when unset /metrics answers loopback only. */
  metricsToken?: string | undefined;
  tenantTokens: TenantTokens;
  users: ConsoleUsers;
  failures: FailureLimiter;
  /** Counts a refusal by reason (and, on a tenant route, as a tenant refusal too). */
  refused: (reason: string, access: Access | undefined) => void;
}

type Authenticated = { ok: true; principal: Principal | undefined } | { ok: false; reason: string };

/** The answer to every refused credential, and to any path without a route for a caller without one. */
export const refusal = () => new SkjoldError('SKJOLD_ERR_AUTH');

const isLoopback = (address: string | undefined) =>
  !!address && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));

/** The session cookie's value, if the Cookie header has one. */
function sessionCookie(header: string | undefined): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const [name, value] = part.trim().split('=', 2) as [string, string | undefined];
    if (name === SESSION_COOKIE) return value ?? '';
  }
  return undefined;
}

const bearer = (req: FastifyRequest): string | undefined => {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  return header.startsWith('Bearer ') ? header.slice(7) : '';
};

/**
 * Authorisation belongs to the route. Every route carries an `access`
 * declaration (api/access.ts), set in its own options or by the encapsulated
 * plugin it is registered in (`withAccess`); a route without one stops the
 * API from starting. Each request is then judged by the route fastify
 * matched — after the router decoded the path — never by the URL text.
 *
 * Refusals look alike: a missing, unknown, revoked or ill-formed credential
 * gets 401 SKJOLD_ERR_AUTH whether or not the path exists; a valid credential
 * of the wrong kind gets the same 401, and a tenant credential without the
 * route's scope 403 before anything is looked up. Repeated failures from one
 * address are slowed (failure-limit.ts) before any credential is checked.
 */
export function addGuard(app: FastifyInstance, deps: GuardDeps): void {
  const operatorDigest = digest(deps.operatorToken);
  const metricsDigest = deps.metricsToken ? digest(deps.metricsToken) : undefined;
  const routes: RouteOptions[] = [];
  tables.set(app, routes);

  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  // Deny by default: checked once every plugin has added its routes and declarations.
  app.addHook('onReady', async () => {
    const undeclared = routes.filter((r) => !r.config?.access).map((r) => `${r.method} ${r.url}`);
    if (undeclared.length > 0)
      throw new SkjoldError(
        'SKJOLD_ERR_CONFIG',
        `routes without an access declaration: ${undeclared.join(', ')}`,
      );
  });

  async function authenticate(req: FastifyRequest): Promise<Authenticated> {
    const token = bearer(req);
    if (token !== undefined) {
      if (token && sameSecret(token, operatorDigest))
        return { ok: true, principal: { kind: 'operator', actor: 'operator' } };
      const verified = await deps.tenantTokens.verify(token || undefined);
      if (typeof verified === 'string') return { ok: false, reason: verified };
      return {
        ok: true,
        principal: {
          kind: 'tenant',
          tenantId: verified.tenantId,
          scopes: verified.scopes,
          actor: `tenant:${verified.tenantId}/${verified.id}`,
          tokenId: verified.id,
        },
      };
    }
    const cookie = sessionCookie(req.headers.cookie);
    if (cookie === undefined) return { ok: true, principal: undefined };
    const session = await deps.users.session(cookie);
    if (!session) return { ok: false, reason: 'session' };
    // A cookie rides along with any request the browser makes: writes must also prove they come from the console.
    if (!SAFE_METHODS.has(req.method)) {
      const sent = req.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !sameSecret(sent, digest(session.csrfToken)))
        return { ok: false, reason: 'csrf' };
    }
    req.consoleSession = { id: cookie, session };
    const { user } = session;
    if (user.role === 'operator' || user.tenantId === null)
      return { ok: true, principal: { kind: 'operator', actor: `operator:${user.username}` } };
    return {
      ok: true,
      principal: {
        kind: 'tenant',
        tenantId: user.tenantId,
        scopes: ROLE_SCOPES[user.role],
        actor: `tenant:${user.tenantId}/user:${user.username}`,
      },
    };
  }

  function refuse(req: FastifyRequest, reason: string): never {
    // A guess is a credential that is wrong. Coming without one (a signed-out
    // browser, a probe) or with a valid one on the wrong route guesses nothing.
    if (!UNGUESSED.has(reason)) deps.failures.fail(req.ip);
    deps.refused(reason, req.routeOptions.config.access);
    throw refusal();
  }

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const access: Access | undefined = req.routeOptions.config.access;
    if (access?.kind === 'public') return;
    if (deps.failures.blocked(req.ip)) {
      reply.header('retry-after', String(deps.failures.retryAfterSeconds(req.ip)));
      deps.refused('rate_limited', access);
      throw new SkjoldError('SKJOLD_ERR_RATE_LIMITED', 'too many failed sign-ins from this address');
    }
    if (access?.kind === 'metrics') {
      const token = bearer(req);
      if (
        metricsDigest
          ? token !== undefined && sameSecret(token, metricsDigest)
          : isLoopback(req.socket.remoteAddress)
      )
        return;
      refuse(req, !metricsDigest ? 'not_loopback' : bearer(req) === undefined ? 'missing' : 'invalid');
    }
    const auth = await authenticate(req);
    if (!auth.ok) refuse(req, auth.reason);
    const principal = auth.principal;
    // No route here: a caller without credentials learns nothing, not even that the path is unknown.
    if (req.is404 || !access) {
      if (!principal) refuse(req, 'missing');
      if (!access && !req.is404) throw refusal();
      return;
    }
    if (!principal) refuse(req, 'missing');
    if (access.kind === 'user') {
      req.principal = principal;
      return;
    }
    if (access.kind !== principal.kind) refuse(req, 'kind');
    if (access.kind === 'tenant' && principal.kind === 'tenant' && !principal.scopes.includes(access.scope)) {
      deps.refused('scope', access);
      throw new SkjoldError('SKJOLD_ERR_SCOPE', access.scope);
    }
    req.principal = principal;
  });
}

const tables = new WeakMap<FastifyInstance, RouteOptions[]>();

/** Every route the guarded app registered, with its access: what the boundary tests walk. */
export function routeTable(
  app: FastifyInstance,
): Array<{ method: string; url: string; access: Access | undefined; schema: RouteOptions['schema'] }> {
  return (tables.get(app) ?? []).flatMap((r) =>
    (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({
      method,
      url: r.url,
      access: r.config?.access,
      schema: r.schema,
    })),
  );
}

/**
 * Gives every route registered in `scope` the access `access`, unless it
 * declares its own: the encapsulated-plugin form of a route's declaration.
 */
export function withAccess(scope: FastifyInstance, access: Access): void {
  scope.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: route.config?.access ?? access };
  });
}
