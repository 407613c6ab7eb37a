import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditInput } from '../audit/audit-log.ts';
import { DEVICE_KINDS } from '../lib/device-kinds.ts';
import { isSkjoldError, SkjoldError } from '../lib/errors.ts';
import { DEVICE_IDENTIFIER_TYPES, type DeviceInput } from '../registry/enrolment.ts';
import { moveOut } from '../requests/occupancy.ts';
import { periodBound, periodFields, toInstant, toPeriod } from '../requests/periods.ts';
import { createRights } from '../requests/rights.ts';
import { parseCsv } from './csv.ts';
import type { ApiDeps } from './deps.ts';
import { requireTenant, tenantParams } from './routes-tenants.ts';

const identifiers = z.strictObject(
  Object.fromEntries(DEVICE_IDENTIFIER_TYPES.map((t) => [t, z.string().min(1).max(64).optional()])),
);
const deviceBody = z.object({
  kind: z.enum(DEVICE_KINDS),
  contractId: z.string().min(1).max(64),
  identifiers,
  secret: z.string().min(16).max(200).optional(),
  area: z.string().min(1).max(100).optional(),
});
const subjectParams = tenantParams.extend({ ref: z.string().min(1).max(128) });
const linkBody = z.object({ deviceId: z.string().uuid(), ...periodFields });
const moveOutParams = subjectParams.extend({ deviceId: z.string().uuid() });
const moveOutBody = z.object({ at: periodBound });

/** CSV columns: kind, contract, then any identifier columns, an optional secret and an optional area. */
function rowToDevice(row: Record<string, string>): DeviceInput {
  const ids: Record<string, string> = {};
  for (const t of DEVICE_IDENTIFIER_TYPES) if (row[t]) ids[t] = row[t];
  return deviceBody.parse({
    kind: row.kind,
    contractId: row.contract,
    identifiers: ids,
    secret: row.secret || undefined,
    area: row.area || undefined,
  });
}

/**
 * A device's registration on the record: its id, kind, contract and login
 * pseudonym. Its identifiers and its secret never are (art. 5(1)(c), art. 32).
 */
function registered(
  tenantId: string,
  input: DeviceInput,
  device: { id: string; pseudonym: string },
  via?: 'import',
): AuditInput {
  return {
    actor: 'operator',
    action: 'device.register',
    tenantId,
    target: device.id,
    detail: {
      kind: input.kind,
      contract: input.contractId,
      pseudonym: device.pseudonym,
      secret: input.secret === undefined ? 'generated' : 'given',
      ...(via ? { via } : {}),
    },
  };
}

export function registerDeviceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const rights = createRights(deps);
  app.post(
    '/v1/tenants/:tenant/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'Register a device; its secret is returned once',
        params: tenantParams,
        body: deviceBody,
      },
    },
    async (req, reply) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const input = deviceBody.parse(req.body);
      const device = await deps.enrolment.register(tenant, input);
      await deps.audit.append(registered(tenant, input, device));
      // The secret is returned once and never stored in clear.
      return reply.code(201).send(device);
    },
  );

  app.get(
    '/v1/tenants/:tenant/devices',
    {
      schema: {
        tags: ['devices'],
        summary: "A tenant's devices (pseudonyms, no secrets)",
        params: tenantParams,
      },
    },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const devices = await deps.registry.listDevices(tenant);
      return devices.map(({ credentialHash: _hash, ...d }) => d);
    },
  );

  // Bulk registration. Every row is validated before any is registered; rows
  // that then conflict (already registered) are reported and the rest go in.
  app.post(
    '/v1/tenants/:tenant/devices/import',
    {
      schema: {
        tags: ['devices'],
        summary: 'Register devices from a CSV file (text/csv)',
        params: tenantParams,
      },
    },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      if (typeof req.body !== 'string') throw new SkjoldError('SKJOLD_ERR_CSV', 'send the file as text/csv');
      const rows = parseCsv(req.body);
      const inputs = rows.map((row, i) => {
        try {
          return rowToDevice(row);
        } catch (err) {
          const reason =
            err instanceof z.ZodError ? err.issues.map((x) => x.path.join('.')).join(', ') : 'invalid';
          throw new SkjoldError('SKJOLD_ERR_CSV', `row ${i + 2}: ${reason}`);
        }
      });
      const results = [];
      for (const [i, input] of inputs.entries()) {
        try {
          const device = await deps.enrolment.register(tenant, input);
          await deps.audit.append(registered(tenant, input, device, 'import'));
          results.push({ row: i + 2, ...device });
        } catch (err) {
          if (!isSkjoldError(err)) throw err;
          results.push({ row: i + 2, error: { code: err.code, message: err.message } });
        }
      }
      const imported = results.filter((r) => !('error' in r)).length;
      await deps.audit.append({
        actor: 'operator',
        action: 'devices.import',
        tenantId: tenant,
        detail: { rows: rows.length, imported, failed: rows.length - imported },
      });
      return { imported, results };
    },
  );

  // Links a subject to a device for an occupancy period [from, to); one occupant at a time.
  app.put(
    '/v1/tenants/:tenant/subjects/:ref/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'Link a subject to a device for an occupancy period',
        params: subjectParams,
        body: linkBody,
      },
    },
    async (req, reply) => {
      const { tenant, ref } = subjectParams.parse(req.params);
      const body = linkBody.parse(req.body);
      // Not found and not yours look the same: no other tenant's device is revealed.
      if (!(await deps.registry.getDevice(tenant, body.deviceId)))
        throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'device');
      const period = toPeriod(body);
      await deps.registry.linkSubjectDevice(tenant, ref, body.deviceId, period, (other) =>
        rights.sealer.subjectPseudonym(tenant, other),
      );
      // The subject by its keyed pseudonym, never by the tenant's own reference (art. 4(5)).
      await deps.audit.append({
        actor: req.principal?.actor ?? 'operator',
        action: 'subject.link',
        tenantId: tenant,
        target: rights.sealer.subjectPseudonym(tenant, ref),
        detail: { device: body.deviceId, from: body.from ?? null, to: body.to ?? null },
      });
      // The subject's objections reach the device's points from the next message on.
      await deps.objections?.refresh();
      return reply.code(204).send();
    },
  );

  app.post(
    '/v1/tenants/:tenant/subjects/:ref/devices/:deviceId/move-out',
    {
      schema: {
        tags: ['devices'],
        summary: "Close a subject's open period on a device; a heat meter's register is kept for billing",
        params: moveOutParams,
        body: moveOutBody,
      },
    },
    async (req) => {
      const { tenant, ref, deviceId } = moveOutParams.parse(req.params);
      const { at } = moveOutBody.parse(req.body);
      await requireTenant(deps, tenant);
      return moveOut(rights, req.principal?.actor ?? 'operator', tenant, ref, deviceId, toInstant(at));
    },
  );
}
