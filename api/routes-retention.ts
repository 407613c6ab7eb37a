import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SkjoldError } from '../lib/errors.ts';
import { DEFAULT_POLICY, policyPatch } from '../retention/policy.ts';
import { createRetention } from '../retention/retention.ts';
import type { ApiDeps } from './deps.ts';
import { requireTenant, tenantId, tenantParams } from './routes-tenants.ts';

const tenantQuery = z.object({ tenant: tenantId.optional() });
const contractParams = tenantParams.extend({ contract: z.string().min(1).max(64) });
const holdParams = tenantParams.extend({ id: z.string().min(1).max(100) });
const endBody = z.strictObject({ endsOn: z.iso.date().nullable() });
const holdBody = z.strictObject({
  scope: z.enum(['tenant', 'subject', 'device']),
  target: z.string().min(1).max(128).optional(),
  reason: z.string().min(1).max(500),
  until: z.iso.date().optional(),
});

/**
 * Retention (docs/retention.md) for operators: the plan and the run, each
 * contract's policy, and the legal holds that stop deletion.
 */
export function registerRetentionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const retention = createRetention(deps);

  // Read-only: what a run would do now.
  app.get(
    '/v1/retention/plan',
    {
      schema: {
        tags: ['retention'],
        summary: 'What a retention run would do now, changing nothing',
        querystring: tenantQuery,
      },
    },
    async (req) => {
      const { tenant } = tenantQuery.parse(req.query);
      return { at: deps.clock().toISOString(), plans: await retention.plan(tenant) };
    },
  );

  app.post(
    '/v1/retention/run',
    {
      schema: {
        tags: ['retention'],
        summary: 'Run retention now; one receipt per tenant',
        querystring: tenantQuery,
      },
    },
    async (req) => {
      const { tenant } = tenantQuery.parse(req.query);
      return { at: deps.clock().toISOString(), receipts: await retention.run(tenant) };
    },
  );

  app.get(
    '/v1/tenants/:tenant/contracts/:contract/retention',
    { schema: { tags: ['retention'], summary: "A contract's retention policy", params: contractParams } },
    async (req) => {
      const { tenant, contract } = contractParams.parse(req.params);
      if (!(await deps.registry.getContract(tenant, contract)))
        throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `contract ${contract}`);
      return {
        contractId: contract,
        policy: await retention.policies.get(tenant, contract),
        defaults: DEFAULT_POLICY,
      };
    },
  );

  app.put(
    '/v1/tenants/:tenant/contracts/:contract/retention',
    {
      schema: {
        tags: ['retention'],
        summary: "Change a contract's retention policy",
        params: contractParams,
        body: policyPatch,
      },
    },
    async (req) => {
      const { tenant, contract } = contractParams.parse(req.params);
      if (!(await deps.registry.getContract(tenant, contract)))
        throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `contract ${contract}`);
      const patch = policyPatch.parse(req.body);
      const policy = await retention.policies.set(tenant, contract, patch);
      await deps.audit.append({
        actor: 'operator',
        action: 'retention.policy',
        tenantId: tenant,
        target: contract,
        detail: { ...policy },
      });
      return { contractId: contract, policy };
    },
  );

  // A contract ends (or its end moves): retention's dates count from here.
  app.put(
    '/v1/tenants/:tenant/contracts/:contract/end',
    {
      schema: {
        tags: ['contracts'],
        summary: "Set or move a contract's end date",
        params: contractParams,
        body: endBody,
      },
    },
    async (req) => {
      const { tenant, contract } = contractParams.parse(req.params);
      const { endsOn } = endBody.parse(req.body);
      const updated = await deps.registry.setContractEnd(tenant, contract, endsOn);
      if (!updated) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `contract ${contract}`);
      await deps.audit.append({
        actor: 'operator',
        action: 'contract.end',
        tenantId: tenant,
        target: contract,
        detail: { endsOn },
      });
      return updated;
    },
  );

  app.get(
    '/v1/tenants/:tenant/holds',
    { schema: { tags: ['retention'], summary: "A tenant's legal holds", params: tenantParams } },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      return deps.holds.list(tenant);
    },
  );

  app.post(
    '/v1/tenants/:tenant/holds',
    {
      schema: {
        tags: ['retention'],
        summary: 'Place a legal hold on a tenant, subject or device',
        params: tenantParams,
        body: holdBody,
      },
    },
    async (req, reply) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const body = holdBody.parse(req.body);
      const hold = await deps.holds.create({ tenantId: tenant, ...body });
      // The reason and a subject's reference stay out of the audit log: free text may name a person.
      await deps.audit.append({
        actor: 'operator',
        action: 'hold.create',
        tenantId: tenant,
        target: hold.id,
        detail: {
          scope: hold.scope,
          until: hold.until,
          ...(hold.scope === 'device' ? { device: hold.target } : {}),
        },
      });
      return reply.code(201).send(hold);
    },
  );

  app.post(
    '/v1/tenants/:tenant/holds/:id/release',
    { schema: { tags: ['retention'], summary: 'Release a legal hold', params: holdParams } },
    async (req) => {
      const { tenant, id } = holdParams.parse(req.params);
      await requireTenant(deps, tenant);
      const hold = await deps.holds.release(tenant, id, deps.clock());
      await deps.audit.append({
        actor: 'operator',
        action: 'hold.release',
        tenantId: tenant,
        target: hold.id,
        detail: { scope: hold.scope },
      });
      return hold;
    },
  );
}
