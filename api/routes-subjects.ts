import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { SkjoldError } from '../lib/errors.ts';
import { DEVICE_IDENTIFIER_TYPES } from '../registry/enrolment.ts';
import { eraseWith } from '../requests/erasure.ts';
import type { ExportFormat } from '../requests/export.ts';
import { subjectExport } from '../requests/export-views.ts';
import type { RequestMetrics } from '../requests/metrics.ts';
import { moveOut } from '../requests/occupancy.ts';
import { periodBound, periodFields, toInstant, toPeriod } from '../requests/periods.ts';
import type { Rights } from '../requests/rights.ts';
import { tenantAccess, tenantPrincipal } from './access.ts';

export const ref = z.string().min(1).max(128);
const subjectParams = z.object({ ref });
const requestId = z.string().min(1).max(64).optional();
const identifiers = z.strictObject(
  Object.fromEntries(DEVICE_IDENTIFIER_TYPES.map((t) => [t, z.string().min(1).max(64).optional()])),
);
const linkInput = z
  .object({
    deviceId: z.string().min(1).max(64).optional(),
    identifiers: identifiers.optional(),
    ...periodFields,
  })
  .refine((v) => v.deviceId || (v.identifiers && Object.keys(v.identifiers).length > 0), {
    message: 'name the device by deviceId or identifiers',
  });
const rectifyBody = z.object({
  remove: z.array(z.string().min(1).max(64)).max(100).default([]),
  add: z.array(linkInput).max(100).default([]),
  requestId,
});
const actionBody = z.object({ requestId }).default({});
const deviceParams = subjectParams.extend({ deviceId: z.string().min(1).max(64) });
const moveOutBody = z.object({ at: periodBound });
const purposeBody = z.object({ purpose: z.string().min(1).max(200), requestId });
const liftBody = z.object({ purpose: z.string().min(1).max(200) });
const specialBody = z.object({
  category: z.string().min(1).max(100),
  note: z.string().min(1).max(2000),
  consent: z
    .object({ givenAt: z.iso.datetime({ offset: true }), text: z.string().min(1).max(2000) })
    .optional(),
});
export const exportQuery = z.object({
  format: z.enum(['json', 'csv']).default('json'),
  request: requestId,
});

export function sendExport(
  reply: FastifyReply,
  stream: NodeJS.ReadableStream,
  format: ExportFormat,
  name: string,
) {
  return reply
    .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}.${format}"`)
    .header('cache-control', 'no-store')
    .send(stream);
}

/**
 * The tenant's own API, under /tenant/v1 with a scoped tenant token: the
 * tenant (controller) acts on its subjects' requests. The tenant comes from
 * the token; another tenant's subject, device or request is "not found",
 * exactly like one that does not exist.
 */
export function registerSubjectRoutes(app: FastifyInstance, rights: Rights, metrics: RequestMetrics): void {
  app.register(
    async (scope) => {
      const done = (kind: string) => metrics.tenantActions.inc({ kind });

      scope.get(
        '/subjects/:ref',
        {
          config: { access: tenantAccess('subjects:export') },
          schema: {
            tags: ['subject requests'],
            summary: "A subject's devices and status",
            params: subjectParams,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { ref } = subjectParams.parse(req.params);
          await rights.subjects.require(t.tenantId, ref);
          const devices = await rights.subjects.devicesOf(t.tenantId, ref);
          await rights.deps.audit.append({
            actor: t.actor,
            action: 'subject.view',
            tenantId: t.tenantId,
            target: rights.sealer.subjectPseudonym(t.tenantId, ref),
          });
          return {
            subject: rights.sealer.subjectPseudonym(t.tenantId, ref),
            devices: devices.map((d) => ({
              id: d.device.id,
              kind: d.device.kind,
              contract: d.device.contractId,
              periods: d.periods,
            })),
            ...(await rights.subjects.status(t.tenantId, ref)),
          };
        },
      );

      // Links a subject to a device named by its identifiers (kept only sealed) or id, for an occupancy period.
      scope.put(
        '/subjects/:ref/devices',
        {
          config: { access: tenantAccess('subjects:write') },
          schema: {
            tags: ['subject requests'],
            summary: 'Link a subject to a device by id or identifiers',
            params: subjectParams,
            body: linkInput,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { ref } = subjectParams.parse(req.params);
          const body = linkInput.parse(req.body);
          const period = toPeriod(body);
          const device = await rights.subjects.link(t.tenantId, ref, body, period);
          const shown = { from: period.from?.toISOString() ?? null, to: period.to?.toISOString() ?? null };
          await rights.deps.audit.append({
            actor: t.actor,
            action: 'subject.link',
            tenantId: t.tenantId,
            target: rights.sealer.subjectPseudonym(t.tenantId, ref),
            detail: { device: device.id, ...shown },
          });
          return { subject: rights.sealer.subjectPseudonym(t.tenantId, ref), device: device.id, ...shown };
        },
      );

      // A move-out closes the subject's open period of the device (and keeps a heat meter's register at the move).
      scope.post(
        '/subjects/:ref/devices/:deviceId/move-out',
        {
          config: { access: tenantAccess('subjects:write') },
          schema: {
            tags: ['subject requests'],
            summary:
              "Close the subject's open period on a device; a heat meter's register is kept for billing",
            params: deviceParams,
            body: moveOutBody,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { ref, deviceId } = deviceParams.parse(req.params);
          const { at } = moveOutBody.parse(req.body);
          return moveOut(rights, t.actor, t.tenantId, ref, deviceId, toInstant(at));
        },
      );

      // Art. 16: wrong links removed, right ones added, as one request.
      scope.post(
        '/subjects/:ref/rectify',
        {
          config: { access: tenantAccess('subjects:write') },
          schema: {
            tags: ['subject requests'],
            summary: "Art. 16: correct a subject's device links",
            params: subjectParams,
            body: rectifyBody,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { ref } = subjectParams.parse(req.params);
          const body = rectifyBody.parse(req.body);
          // Everything is checked before anything changes (or a request is filed).
          await rights.subjects.require(t.tenantId, ref);
          const current = new Set((await rights.subjects.devicesOf(t.tenantId, ref)).map((d) => d.device.id));
          for (const id of body.remove)
            if (!current.has(id)) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'device');
          for (const a of body.add) await rights.subjects.findDevice(t.tenantId, a);
          const request = await rights.requestFor(t.tenantId, ref, ['rectification'], body.requestId);
          for (const id of body.remove) await rights.subjects.unlink(t.tenantId, ref, id);
          const added = [];
          for (const a of body.add)
            added.push((await rights.subjects.link(t.tenantId, ref, a, toPeriod(a))).id);
          done('rectification');
          return rights.record(t.actor, t.tenantId, ref, 'subject.rectify', request.id, {
            removed: body.remove,
            added,
          });
        },
      );

      // Art. 15 / 20: streamed, JSON or CSV, with the tenant's own identifiers.
      scope.get(
        '/subjects/:ref/export',
        {
          config: { access: tenantAccess('subjects:export') },
          schema: {
            tags: ['subject requests'],
            summary: "Art. 15/20: a subject's data with the art. 15 information, JSON or CSV",
            params: subjectParams,
            querystring: exportQuery,
          },
        },
        async (req, reply) => {
          const t = tenantPrincipal(req);
          const { ref } = subjectParams.parse(req.params);
          const q = exportQuery.parse(req.query);
          const request = await rights.requestFor(t.tenantId, ref, ['access', 'portability'], q.request);
          const stream = await subjectExport(rights, t.tenantId, ref, q.format, {
            id: request.id,
            kind: request.kind,
          });
          await rights.record(t.actor, t.tenantId, ref, 'subject.export', request.id, { format: q.format });
          done(request.kind);
          return sendExport(reply, stream, q.format, `subject-${request.id}`);
        },
      );

      // Art. 17.
      scope.post(
        '/subjects/:ref/erase',
        {
          config: { access: tenantAccess('subjects:erase') },
          schema: {
            tags: ['subject requests'],
            summary: "Art. 17: erase a subject's data; returns the receipt",
            params: subjectParams,
            body: actionBody,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { ref } = subjectParams.parse(req.params);
          const { requestId } = actionBody.parse(req.body ?? {});
          const receipt = await eraseWith(rights, t.actor, t.tenantId, ref, { requestId });
          done('erasure');
          return receipt;
        },
      );

      // Art. 18: kept, but out of every view but the tenant's own.
      scope.post(
        '/subjects/:ref/restrict',
        {
          config: { access: tenantAccess('subjects:write') },
          schema: {
            tags: ['subject requests'],
            summary: 'Art. 18: restrict processing',
            params: subjectParams,
            body: actionBody,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { ref } = subjectParams.parse(req.params);
          const { requestId } = actionBody.parse(req.body ?? {});
          const request = await rights.requestFor(t.tenantId, ref, ['restriction'], requestId);
          await rights.subjects.restrict(t.tenantId, ref, rights.deps.clock());
          done('restriction');
          return rights.record(t.actor, t.tenantId, ref, 'subject.restrict', request.id, {});
        },
      );

      scope.post(
        '/subjects/:ref/restrict/lift',
        {
          config: { access: tenantAccess('subjects:write') },
          schema: {
            tags: ['subject requests'],
            summary: 'Lift a restriction',
            params: subjectParams,
            body: actionBody,
          },
        },
        async (req) => {
          const t = tenantPrincipal(req);
          const { ref } = subjectParams.parse(req.params);
          const { requestId } = actionBody.parse(req.body ?? {});
          const request = await rights.requestFor(t.tenantId, ref, ['restriction_lift'], requestId);
          const lifted = await rights.subjects.lift(t.tenantId, ref);
          done('restriction_lift');
          return rights.record(t.actor, t.tenantId, ref, 'subject.restrict.lift', request.id, { lifted });
        },
      );

      // Art. 21 objection and art. 7(3) withdrawal of consent, per purpose.
      for (const [path, basis, kind] of [
        ['object', 'objection', 'objection'],
        ['withdraw-consent', 'consent_withdrawal', 'consent_withdrawal'],
      ] as const) {
        scope.post(
          `/subjects/:ref/${path}`,
          {
            config: { access: tenantAccess('subjects:write') },
            schema: {
              tags: ['subject requests'],
              summary: 'Art. 21 objection or art. 7(3) consent withdrawal, per purpose',
              params: subjectParams,
              body: purposeBody,
            },
          },
          async (req) => {
            const t = tenantPrincipal(req);
            const { ref } = subjectParams.parse(req.params);
            const body = purposeBody.parse(req.body);
            const request = await rights.requestFor(t.tenantId, ref, [kind], body.requestId);
            await rights.subjects.object(t.tenantId, ref, body.purpose, basis, rights.deps.clock());
            done(kind);
            return rights.record(t.actor, t.tenantId, ref, `subject.${kind}`, request.id, {
              purpose: body.purpose,
            });
          },
        );

        // The subject withdrew the objection, or consented again: storage for the purpose resumes.
        scope.post(
          `/subjects/:ref/${path}/lift`,
          {
            config: { access: tenantAccess('subjects:write') },
            schema: {
              tags: ['subject requests'],
              summary: 'Lift an objection or consent withdrawal for a purpose: storage resumes',
              params: subjectParams,
              body: liftBody,
            },
          },
          async (req) => {
            const t = tenantPrincipal(req);
            const { ref } = subjectParams.parse(req.params);
            const { purpose } = liftBody.parse(req.body);
            await rights.subjects.require(t.tenantId, ref);
            const lifted = await rights.subjects.liftObjection(t.tenantId, ref, purpose, basis);
            const entry = await rights.deps.audit.append({
              actor: t.actor,
              action: `subject.${kind}.lift`,
              tenantId: t.tenantId,
              target: rights.sealer.subjectPseudonym(t.tenantId, ref),
              detail: { purpose, lifted },
            });
            return { lifted, audit: { seq: entry.seq, hash: entry.hash } };
          },
        );
      }

      // Art. 9(2)(a): special-category notes only with explicit consent; sealed at rest.
      scope.post(
        '/subjects/:ref/special-category',
        {
          config: { access: tenantAccess('subjects:write') },
          schema: {
            tags: ['subject requests'],
            summary: 'Art. 9: a special-category note, with explicit consent',
            params: subjectParams,
            body: specialBody,
          },
        },
        async (req, reply) => {
          const t = tenantPrincipal(req);
          const { ref } = subjectParams.parse(req.params);
          const body = specialBody.parse(req.body);
          await rights.subjects.require(t.tenantId, ref);
          const { id } = await rights.subjects.addSpecialCategory(t.tenantId, ref, body, rights.deps.clock());
          await rights.deps.audit.append({
            actor: t.actor,
            action: 'subject.special_category.add',
            tenantId: t.tenantId,
            target: rights.sealer.subjectPseudonym(t.tenantId, ref),
            detail: { id, category: body.category },
          });
          return reply.code(201).send({ id });
        },
      );
    },
    { prefix: '/tenant/v1' },
  );
}
