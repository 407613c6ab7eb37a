import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { tenantExport } from '../requests/export-views.ts';
import type { Rights } from '../requests/rights.ts';
import { fleetStatistics } from '../requests/statistics.ts';
import { TOKEN_SCOPES } from '../requests/tokens.ts';
import type { ApiDeps } from './deps.ts';
import { sendExport } from './routes-subjects.ts';
import { requireTenant, tenantId, tenantParams } from './routes-tenants.ts';

export const tokenParams = tenantParams.extend({ id: z.string().min(1).max(64) });
export const requestsQuery = z.object({
  overdue: z.enum(['true', 'false']).optional(),
  tenant: tenantId.optional(),
});
export const statisticsQuery = z.object({ days: z.coerce.number().int().min(1).max(3660).default(30) });
export const formatQuery = z.object({ format: z.enum(['json', 'csv']).default('json') });
export const tokenBody = z.object({
  scopes: z.array(z.enum(TOKEN_SCOPES)).min(1),
  label: z.string().min(1).max(200).optional(),
});

/**
 * The operator's side of subject rights: tenant tokens, every tenant's
 * overdue requests, its own fleet statistics and a tenant's export — the last
 * two without restricted (and, for statistics, objecting) subjects.
 */
export function registerRequestOperatorRoutes(app: FastifyInstance, deps: ApiDeps, rights: Rights): void {
  app.post(
    '/v1/tenants/:tenant/tokens',
    {
      schema: {
        tags: ['tenants'],
        summary: 'Issue a scoped tenant token (shown once)',
        params: tenantParams,
        body: tokenBody,
      },
    },
    async (req, reply) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const body = tokenBody.parse(req.body);
      const issued = await rights.tokens.issue(tenant, body.scopes, body.label);
      await deps.audit.append({
        actor: 'operator',
        action: 'token.issue',
        tenantId: tenant,
        target: issued.id,
        detail: { scopes: issued.scopes },
      });
      // The token is shown once; only its hash is kept.
      return reply.code(201).send(issued);
    },
  );

  app.get(
    '/v1/tenants/:tenant/tokens',
    { schema: { tags: ['tenants'], summary: "A tenant's tokens (no secrets)", params: tenantParams } },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      return rights.tokens.list(tenant);
    },
  );

  app.delete(
    '/v1/tenants/:tenant/tokens/:id',
    { schema: { tags: ['tenants'], summary: 'Revoke a tenant token', params: tokenParams } },
    async (req, reply) => {
      const { tenant, id } = tokenParams.parse(req.params);
      await rights.tokens.revoke(tenant, id, deps.clock());
      await deps.audit.append({ actor: 'operator', action: 'token.revoke', tenantId: tenant, target: id });
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/requests',
    {
      schema: {
        tags: ['subject requests'],
        summary: "Every tenant's data-subject requests, optionally overdue only",
        querystring: requestsQuery,
      },
    },
    async (req) => {
      const q = requestsQuery.parse(req.query);
      return rights.requests.list({
        ...(q.tenant ? { tenantId: q.tenant } : {}),
        overdue: q.overdue === 'true',
      });
    },
  );

  app.get(
    '/v1/statistics/fleet',
    {
      schema: {
        tags: ['telemetry'],
        summary: 'Fleet statistics, restricted and objecting subjects left out',
        querystring: statisticsQuery,
      },
    },
    async (req) => {
      const { days } = statisticsQuery.parse(req.query);
      const to = deps.clock();
      return fleetStatistics(deps, { from: new Date(to.getTime() - days * 86_400_000), to });
    },
  );

  // A tenant's data as the operator may see it: pseudonyms, restricted subjects left out (art. 18).
  app.get(
    '/v1/tenants/:tenant/export',
    {
      schema: {
        tags: ['tenants'],
        summary: "A tenant's data as the operator may see it (pseudonyms, restricted left out)",
        params: tenantParams,
        querystring: formatQuery,
      },
    },
    async (req, reply) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const { format } = formatQuery.parse(req.query);
      const stream = await tenantExport(rights, tenant, format, 'operator');
      await deps.audit.append({
        actor: 'operator',
        action: 'tenant.export',
        tenantId: tenant,
        detail: { format, view: 'operator' },
      });
      return sendExport(reply, stream, format, `tenant-${tenant}`);
    },
  );
}
