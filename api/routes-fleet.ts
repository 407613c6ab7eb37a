import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OPERATOR, tenantAccess, tenantPrincipal } from './access.ts';
import type { ApiDeps } from './deps.ts';
import { requireTenant, tenantParams } from './routes-tenants.ts';

/** GET /v1/fleet/health: the whole fleet, or one tenant's (`?tenant=`; empty means all). */
export const fleetHealthQuery = z.strictObject({
  tenant: z.preprocess((v) => (v === '' ? undefined : v), tenantParams.shape.tenant.optional()),
});

/** GET /tenant/v1/fleet/health takes no parameters: the tenant is the credential's. */
export const tenantFleetHealthQuery = z.strictObject({});

/**
 * Fleet health for the console (docs/architecture.md, "Fleet health"): the
 * operator sees every tenant's devices and the store's and spool's state; a
 * tenant sees its own devices only, and of the store no more than whether it
 * is up and how fast it writes.
 */
export function registerFleetRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    '/v1/fleet/health',
    {
      config: { access: OPERATOR },
      schema: {
        tags: ['fleet'],
        summary: 'Fleet health: rates, rejections, silent and connected devices, store and spool',
        querystring: fleetHealthQuery,
      },
    },
    async (req) => {
      const { tenant } = fleetHealthQuery.parse(req.query);
      if (tenant !== undefined) await requireTenant(deps, tenant);
      return deps.fleet.report({ tenantId: tenant ?? null, operator: true });
    },
  );

  app.get(
    '/tenant/v1/fleet/health',
    {
      config: { access: tenantAccess('telemetry:read') },
      schema: { tags: ['fleet'], summary: "The tenant's fleet health", querystring: tenantFleetHealthQuery },
    },
    async (req) => {
      // The tenant comes from the credential, never from the request.
      const { tenantId } = tenantPrincipal(req);
      tenantFleetHealthQuery.parse(req.query);
      return deps.fleet.report({ tenantId, operator: false });
    },
  );
}
