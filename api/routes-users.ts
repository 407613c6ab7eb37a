import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SkjoldError } from '../lib/errors.ts';
import { CONSOLE_ROLES } from './console-users.ts';
import type { ApiDeps } from './deps.ts';
import { tenantId } from './routes-tenants.ts';

export const userBody = z
  .strictObject({
    username: z.string().regex(/^[a-z][a-z0-9._-]{1,62}$/, 'lowercase letters, digits, ".", "_" and "-"'),
    role: z.enum(CONSOLE_ROLES),
    tenantId: tenantId.optional(),
    // Without one, the user signs in with a one-time code (POST /v1/users/:username/sign-in-code).
    password: z.string().min(12, 'at least 12 characters').max(200).optional(),
  })
  .refine((u) => (u.role === 'operator') === (u.tenantId === undefined), {
    message: 'a tenant user names its tenant; an operator names none',
  });
export const userParams = z.object({ username: z.string().min(1).max(64) });

/** The operator creates console users: colleagues, and each tenant's admin and DPO. */
export function registerUserRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post(
    '/v1/users',
    {
      schema: {
        tags: ['console'],
        summary: 'Create a console user (operator, tenant admin or tenant DPO)',
        body: userBody,
      },
    },
    async (req, reply) => {
      const body = userBody.parse(req.body);
      const user = await deps.users.create(body);
      await deps.audit.append({
        actor: req.principal?.actor ?? 'operator',
        action: 'user.create',
        tenantId: user.tenantId,
        target: user.username,
        detail: { role: user.role },
      });
      return reply.code(201).send(user);
    },
  );

  app.get('/v1/users', { schema: { tags: ['console'], summary: 'Every console user' } }, async () =>
    deps.users.list(),
  );

  // A link that signs the user in once, within 15 minutes: the first sign-in of a user without a password, or a lost one.
  app.post(
    '/v1/users/:username/sign-in-code',
    {
      schema: {
        tags: ['console'],
        summary: 'A link that signs the user in once, within 15 minutes',
        params: userParams,
      },
    },
    async (req, reply) => {
      const { username } = userParams.parse(req.params);
      const user = await deps.users.get(username);
      if (!user || user.disabledAt) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'active user');
      const code = await deps.users.issueCode(username);
      await deps.audit.append({
        actor: req.principal?.actor ?? 'operator',
        action: 'user.sign_in_code',
        tenantId: user.tenantId,
        target: username,
      });
      return reply.code(201).send({ username, code, path: `/login#code=${code}` });
    },
  );

  app.delete(
    '/v1/users/:username',
    { schema: { tags: ['console'], summary: 'Disable a user and end its sessions', params: userParams } },
    async (req, reply) => {
      const { username } = userParams.parse(req.params);
      await deps.users.disable(username);
      await deps.audit.append({
        actor: req.principal?.actor ?? 'operator',
        action: 'user.disable',
        target: username,
      });
      return reply.code(204).send();
    },
  );
}
