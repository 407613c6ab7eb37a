import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { tenantExport } from '../requests/export-views.ts';
import { REQUEST_KINDS } from '../requests/request-log.ts';
import type { Rights } from '../requests/rights.ts';
import { tenantAccess, tenantPrincipal } from './access.ts';
import { exportQuery, ref, sendExport } from './routes-subjects.ts';

export const fileBody = z.object({
  subjectRef: ref,
  kind: z.enum(REQUEST_KINDS),
  receivedAt: z.iso.datetime({ offset: true }).optional(),
});
export const listQuery = z.object({ overdue: z.enum(['true', 'false']).optional() });
export const requestIdParams = z.object({ id: z.string().min(1).max(64) });
export const extendBody = z.object({
  months: z.number().int().min(1).max(2),
  reason: z.string().min(1).max(1000),
});

/**
 * A tenant's register of data-subject requests (art. 12(3): filed, listed,
 * extended), and its whole export (art. 28(3)(g)), under /tenant/v1 with the
 * tenant from the credential.
 */
export function registerTenantRequestRoutes(app: FastifyInstance, rights: Rights): void {
  app.register(
    async (scope) => {
      scope.post(
        '/requests',
        {
          config: { access: tenantAccess('requests') },
          schema: {
            tags: ['subject requests'],
            summary: 'File a data-subject request; due one month after receipt',
            body: fileBody,
          },
        },
        async (req, reply) => {
          const t = tenantPrincipal(req);
          const body = fileBody.parse(req.body);
          await rights.subjects.require(t.tenantId, body.subjectRef);
          const subject = rights.sealer.subjectPseudonym(t.tenantId, body.subjectRef);
          const r = await rights.requests.file(
            t.tenantId,
            subject,
            body.kind,
            body.receivedAt ? new Date(body.receivedAt) : undefined,
          );
          await rights.deps.audit.append({
            actor: t.actor,
            action: 'request.file',
            tenantId: t.tenantId,
            target: subject,
            detail: { request: r.id, kind: r.kind, receivedAt: r.receivedAt, dueAt: r.dueAt },
          });
          return reply.code(201).send(r);
        },
      );

      scope.get(
        '/requests',
        {
          config: { access: tenantAccess('requests') },
          schema: {
            tags: ['subject requests'],
            summary: "The tenant's requests, optionally overdue only",
            querystring: listQuery,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const q = listQuery.parse(req.query);
          const list = await rights.requests.list({ tenantId: t.tenantId, overdue: q.overdue === 'true' });
          await rights.deps.audit.append({
            actor: t.actor,
            action: 'requests.list',
            tenantId: t.tenantId,
            detail: { overdue: q.overdue === 'true', count: list.length },
          });
          return list;
        },
      );

      scope.get(
        '/requests/:id',
        {
          config: { access: tenantAccess('requests') },
          schema: { tags: ['subject requests'], summary: 'One request', params: requestIdParams },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { id } = requestIdParams.parse(req.params);
          const r = await rights.requests.get(t.tenantId, id);
          await rights.deps.audit.append({
            actor: t.actor,
            action: 'request.view',
            tenantId: t.tenantId,
            target: r.subject,
            detail: { request: r.id },
          });
          return r;
        },
      );

      // Art. 12(3): up to two further months, with the reason the subject is told.
      scope.post(
        '/requests/:id/extend',
        {
          config: { access: tenantAccess('requests') },
          schema: {
            tags: ['subject requests'],
            summary: 'Art. 12(3): extend a request by up to two months',
            params: requestIdParams,
            body: extendBody,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { id } = requestIdParams.parse(req.params);
          const body = extendBody.parse(req.body);
          const r = await rights.requests.extend(t.tenantId, id, body.months, body.reason);
          await rights.deps.audit.append({
            actor: t.actor,
            action: 'request.extend',
            tenantId: t.tenantId,
            target: r.subject,
            detail: { request: r.id, months: body.months, dueAt: r.dueAt },
          });
          return r;
        },
      );

      // Art. 28(3)(g): the tenant's data back, all of it, restricted subjects included.
      scope.get(
        '/export',
        {
          config: { access: tenantAccess('tenant:export') },
          schema: {
            tags: ['tenants'],
            summary: "Art. 28(3)(g): all of the tenant's data",
            querystring: exportQuery,
          },
        },
        async (req, reply) => {
          const t = tenantPrincipal(req);
          const q = exportQuery.parse(req.query);
          const stream = await tenantExport(rights, t.tenantId, q.format, 'tenant');
          await rights.deps.audit.append({
            actor: t.actor,
            action: 'tenant.export',
            tenantId: t.tenantId,
            detail: { format: q.format, view: 'tenant' },
          });
          return sendExport(reply, stream, q.format, `tenant-${t.tenantId}`);
        },
      );
    },
    { prefix: '/tenant/v1' },
  );
}
