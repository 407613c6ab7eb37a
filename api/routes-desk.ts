import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SkjoldError } from '../lib/errors.ts';
import { processingRecords, renderRecords } from '../records/records.ts';
import { createPrivacyDesk } from '../requests/privacy-desk.ts';
import type { Rights } from '../requests/rights.ts';
import { createRetention } from '../retention/retention.ts';
import { OPERATOR, tenantAccess, tenantPrincipal } from './access.ts';
import type { ApiDeps } from './deps.ts';
import { tenantId } from './routes-tenants.ts';

export const deskQuery = z.strictObject({ tenant: tenantId.optional() });
export const requestParams = z.strictObject({ id: z.string().min(1).max(64) });
export const completeBody = z.strictObject({ outcome: z.string().min(1).max(2000).optional() }).default({});
export const recordsQuery = z.strictObject({ format: z.enum(['json', 'text']).default('json') });

/**
 * The privacy desk (requests/privacy-desk.ts) for the operator and for each
 * tenant, a request's completion by the tenant, and a tenant's own art. 30
 * records.
 */
export function registerDeskRoutes(app: FastifyInstance, deps: ApiDeps, rights: Rights): void {
  const retention = createRetention(deps);
  const desk = createPrivacyDesk({ ...deps, requests: rights.requests, retention });

  app.get(
    '/v1/privacy/desk',
    {
      config: { access: OPERATOR },
      schema: {
        tags: ['privacy desk'],
        summary: 'Open requests, contracts falling due, holds, last retention run, audit state',
        querystring: deskQuery,
      },
    },
    async (req) => {
      const { tenant } = deskQuery.parse(req.query);
      return desk.view({ kind: 'operator', ...(tenant ? { tenantId: tenant } : {}) });
    },
  );

  app.get(
    '/v1/privacy/retention-preview',
    {
      config: { access: OPERATOR },
      schema: {
        tags: ['privacy desk'],
        summary: 'What a retention run would do now, per contract',
        querystring: deskQuery,
      },
    },
    async (req) => {
      const { tenant } = deskQuery.parse(req.query);
      return desk.retentionPreview(tenant);
    },
  );

  app.get(
    '/tenant/v1/privacy/desk',
    {
      config: { access: tenantAccess('requests') },
      schema: { tags: ['privacy desk'], summary: "The tenant's privacy desk" },
    },
    async (req) => desk.view({ kind: 'tenant', tenantId: tenantPrincipal(req).tenantId }),
  );

  app.get(
    '/tenant/v1/privacy/retention-preview',
    {
      config: { access: tenantAccess('requests') },
      schema: {
        tags: ['privacy desk'],
        summary: "What a retention run would do now to the tenant's contracts",
      },
    },
    async (req) => desk.retentionPreview(tenantPrincipal(req).tenantId),
  );

  // Art. 12(3): the request answered by other means (a letter, a phone call), recorded with how.
  app.post(
    '/tenant/v1/requests/:id/complete',
    {
      config: { access: tenantAccess('requests') },
      schema: {
        tags: ['subject requests'],
        summary: 'Complete a request answered by other means',
        params: requestParams,
        body: completeBody,
      },
    },
    async (req) => {
      const t = tenantPrincipal(req);
      const { id } = requestParams.parse(req.params);
      const { outcome } = completeBody.parse(req.body ?? {});
      const r = await rights.requests.get(t.tenantId, id);
      if (r.status !== 'open' && r.status !== 'extended')
        throw new SkjoldError('SKJOLD_ERR_REQUEST_STATE', `request is ${r.status}`);
      const entry = await deps.audit.append({
        actor: t.actor,
        action: 'request.complete',
        tenantId: t.tenantId,
        target: r.subject,
        detail: { request: r.id, kind: r.kind },
      });
      return rights.requests.complete(t.tenantId, id, {
        by: t.actor,
        audit: entry.seq,
        ...(outcome ? { outcome } : {}),
      });
    },
  );

  // Art. 30(2): the processing records the tenant's own contracts are part of.
  app.get(
    '/tenant/v1/records',
    {
      config: { access: tenantAccess('requests') },
      schema: {
        tags: ['subject requests'],
        summary: "The tenant's art. 30 records",
        querystring: recordsQuery,
      },
    },
    async (req, reply) => {
      const { format } = recordsQuery.parse(req.query);
      const records = await processingRecords(
        { registry: deps.registry, operatorName: deps.operatorName, subProcessors: deps.subProcessors },
        tenantPrincipal(req).tenantId,
      );
      if (format === 'text') return reply.type('text/plain; charset=utf-8').send(renderRecords(records));
      return records;
    },
  );
}
