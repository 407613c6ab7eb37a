import type { FastifyInstance, FastifyReply } from 'fastify';
import { telemetryCsv } from '../requests/telemetry-csv.ts';
import { telemetryDevicesParams, telemetryQueryParams } from '../requests/telemetry-params.ts';
import { createTelemetryQuery, type TelemetryQuery } from '../requests/telemetry-query.ts';
import { OPERATOR, tenantAccess, tenantPrincipal } from './access.ts';
import type { ApiDeps } from './deps.ts';
import { requireTenant, tenantParams } from './routes-tenants.ts';

export { telemetryDevicesParams, telemetryQueryParams };

const TENANT_READ = { access: tenantAccess('telemetry:read') };

async function answer(
  telemetry: TelemetryQuery,
  tenantId: string,
  query: unknown,
  reply: FastifyReply,
): Promise<unknown> {
  const q = telemetryQueryParams.parse(query);
  const result = await telemetry.query(tenantId, q);
  reply.header('cache-control', 'no-store');
  if (q.format === 'csv') return reply.type('text/csv; charset=utf-8').send(telemetryCsv(result));
  return result;
}

/**
 * Telemetry for the console's charts (docs/telemetry-api.md): the operator
 * names the tenant in the URL; a tenant's tenant comes from its credential.
 * Restricted subjects' devices (art. 18) are left out for both.
 */
export function registerTelemetryRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const telemetry = createTelemetryQuery(deps);

  app.get(
    '/v1/telemetry/fields',
    {
      config: { access: OPERATOR },
      schema: { tags: ['telemetry'], summary: 'The numeric fields of each device kind, with units' },
    },
    async () => telemetry.fields(),
  );

  app.get(
    '/v1/tenants/:tenant/telemetry',
    {
      config: { access: OPERATOR },
      schema: {
        tags: ['telemetry'],
        summary: "A tenant's telemetry, aggregated per window, JSON or CSV",
        params: tenantParams,
        querystring: telemetryQueryParams,
      },
    },
    async (req, reply) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      return answer(telemetry, tenant, req.query, reply);
    },
  );

  app.get(
    '/v1/tenants/:tenant/telemetry/devices',
    {
      config: { access: OPERATOR },
      schema: {
        tags: ['telemetry'],
        summary: "A tenant's devices for charts, by pseudonym",
        params: tenantParams,
        querystring: telemetryDevicesParams,
      },
    },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      return telemetry.devices(tenant, telemetryDevicesParams.parse(req.query));
    },
  );

  app.get(
    '/tenant/v1/telemetry/fields',
    {
      config: TENANT_READ,
      schema: { tags: ['telemetry'], summary: 'The numeric fields of each device kind, with units' },
    },
    async () => telemetry.fields(),
  );

  app.get(
    '/tenant/v1/telemetry',
    {
      config: TENANT_READ,
      schema: {
        tags: ['telemetry'],
        summary: "The tenant's telemetry, aggregated per window, JSON or CSV",
        querystring: telemetryQueryParams,
      },
    },
    async (req, reply) => answer(telemetry, tenantPrincipal(req).tenantId, req.query, reply),
  );

  app.get(
    '/tenant/v1/telemetry/devices',
    {
      config: TENANT_READ,
      schema: {
        tags: ['telemetry'],
        summary: "The tenant's devices for charts, by pseudonym",
        querystring: telemetryDevicesParams,
      },
    },
    async (req) => telemetry.devices(tenantPrincipal(req).tenantId, telemetryDevicesParams.parse(req.query)),
  );
}
