import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { processingRecords, renderRecords } from '../records/records.ts';
import type { ApiDeps } from './deps.ts';
import { tenantId } from './routes-tenants.ts';

const auditQuery = z.object({
  tenant: tenantId.optional(),
  action: z.string().max(100).optional(),
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const recordsQuery = z.object({
  tenant: tenantId.optional(),
  format: z.enum(['json', 'text']).default('json'),
});

/** The operator's view of the audit log and the art. 30 records. */
export function registerAuditRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    '/v1/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit log, oldest first, by tenant and action',
        querystring: auditQuery,
      },
    },
    async (req) => {
      const q = auditQuery.parse(req.query);
      return deps.audit.list({ tenantId: q.tenant, action: q.action, afterSeq: q.after, limit: q.limit });
    },
  );

  // 200 with ok: true, or 409 with the problems found.
  app.get(
    '/v1/audit/verify',
    {
      schema: {
        tags: ['audit'],
        summary: 'Verify the keyed audit chain against its anchors (409 with the problems)',
      },
    },
    async (_req, reply) => {
      const result = await deps.audit.verify();
      if (!result.ok)
        deps.logger.error({ problems: result.problems.slice(0, 20) }, 'audit log verification failed');
      return reply.code(result.ok ? 200 : 409).send(result);
    },
  );

  app.get(
    '/v1/records',
    {
      schema: {
        tags: ['audit'],
        summary: 'GDPR art. 30 records of processing, JSON or text',
        querystring: recordsQuery,
      },
    },
    async (req, reply) => {
      const q = recordsQuery.parse(req.query);
      const records = await processingRecords(
        { registry: deps.registry, operatorName: deps.operatorName, subProcessors: deps.subProcessors },
        q.tenant,
      );
      if (q.format === 'text') return reply.type('text/plain; charset=utf-8').send(renderRecords(records));
      return records;
    },
  );
}
