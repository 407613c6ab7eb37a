import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CONSOLE_ROLES } from './console-users.ts';
import type { ApiDeps } from './deps.ts';
import { tenantId } from './routes-tenants.ts';

export const userBody = z
  .strictObject({
    username: z.string().regex(/^[a-z][a-z0-9._-]{1,62}$/, 'lowercase letters, digits, ".", "_" and "-"'),
    role: z.enum(CONSOLE_ROLES),
    tenantId: tenantId.optional(),
    password: z.string().min(12, 'at least 12 characters').max(200),
  })
  .refine((u) => (u.role === 'operator') === (u.tenantId === undefined), {
    message: 'a tenant user names its tenant; an operator names none',
  });
export const userParams = z.object({ username: z.string().min(1).max(64) });

/** The operator creates console users: colleagues, and each tenant's admin and DPO. */
export function registerUserRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post('/v1/users', async (req, reply) => {
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
  });

  app.get('/v1/users', async () => deps.users.list());

  app.delete('/v1/users/:username', async (req, reply) => {
    const { username } = userParams.parse(req.params);
    await deps.users.disable(username);
    await deps.audit.append({
      actor: req.principal?.actor ?? 'operator',
      action: 'user.disable',
      target: username,
    });
    return reply.code(204).send();
  });
}
