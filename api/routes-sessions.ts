import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { SkjoldError } from '../lib/errors.ts';
import { PUBLIC, USER } from './access.ts';
import type { ConsoleSession, ConsoleUser } from './console-users.ts';
import type { ApiDeps } from './deps.ts';
import type { FailureLimiter } from './failure-limit.ts';
import { refusal, SESSION_COOKIE } from './guard.ts';

export const loginBody = z.union([
  z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) }),
  z.strictObject({ code: z.string().min(10).max(100) }),
]);

const view = (user: ConsoleUser, session: ConsoleSession) => ({
  user: { username: user.username, role: user.role, tenantId: user.tenantId },
  csrfToken: session.csrfToken,
  expiresAt: session.expiresAt,
});

/**
 * Signing in to the console: a password or a one-time code gives an
 * HttpOnly, SameSite=Strict session cookie (Secure with HTTPS) and a CSRF
 * token the console sends with every write. Signing out ends the session in
 * the registry, so the old cookie is worthless everywhere.
 */
export function registerSessionRoutes(app: FastifyInstance, deps: ApiDeps, failures: FailureLimiter): void {
  const cookie = (reply: FastifyReply, value: string, maxAgeS: number) =>
    reply.header(
      'set-cookie',
      [
        `${SESSION_COOKIE}=${value}`,
        'Path=/',
        'HttpOnly',
        'SameSite=Strict',
        `Max-Age=${maxAgeS}`,
        ...(app.secureCookies ? ['Secure'] : []),
      ].join('; '),
    );

  app.post(
    '/console/login',
    {
      // Each password check is an scrypt: a tight limit per address on top of the failure limiter.
      config: { access: PUBLIC, rateLimit: { max: 20, timeWindow: 60_000 } },
      schema: {
        tags: ['console'],
        summary: 'Sign in with a password or a one-time code; sets the session cookie',
        body: loginBody,
      },
    },
    async (req, reply) => {
      if (failures.blocked(req.ip)) {
        reply.header('retry-after', String(failures.retryAfterSeconds(req.ip)));
        throw new SkjoldError('SKJOLD_ERR_RATE_LIMITED', 'too many failed sign-ins from this address');
      }
      const body = loginBody.parse(req.body);
      const user =
        'code' in body
          ? await deps.users.redeemCode(body.code)
          : await deps.users.checkPassword(body.username, body.password);
      if (!user) {
        failures.fail(req.ip);
        deps.metrics.apiAuthRefused.inc({ reason: 'sign_in' });
        throw refusal();
      }
      const { id, session } = await deps.users.startSession(user);
      await deps.audit.append({
        actor:
          user.role === 'operator'
            ? `operator:${user.username}`
            : `tenant:${user.tenantId}/user:${user.username}`,
        action: 'console.sign_in',
        tenantId: user.tenantId,
        detail: { method: 'code' in body ? 'code' : 'password' },
      });
      cookie(reply, id, Math.round((Date.parse(session.expiresAt) - deps.clock().getTime()) / 1000));
      return view(user, session);
    },
  );

  app.get(
    '/console/session',
    {
      config: { access: USER },
      schema: { tags: ['console'], summary: 'The signed-in user and the CSRF token' },
    },
    async (req) => {
      const current = req.consoleSession;
      // A Bearer credential has no console session to describe.
      if (!current) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'console session');
      return view(current.session.user, current.session);
    },
  );

  app.post(
    '/console/logout',
    {
      config: { access: USER },
      schema: { tags: ['console'], summary: 'Sign out: the session ends everywhere' },
    },
    async (req, reply) => {
      const current = req.consoleSession;
      if (current) await deps.users.endSession(current.id);
      cookie(reply, '', 0);
      return reply.code(204).send();
    },
  );
}
