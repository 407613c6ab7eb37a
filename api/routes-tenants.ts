import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MAX_GRID_METRES, MIN_GRID_METRES } from '../ingest/gps-grid.ts';
import { SkjoldError } from '../lib/errors.ts';
import { createSealer } from '../requests/sealing.ts';
import { createKeyShredder, KeyInUseError } from '../retention/key-shred.ts';
import type { ApiDeps } from './deps.ts';

export const tenantId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and hyphens');
const date = z.iso.date();

const tenantBody = z.object({ id: tenantId, name: z.string().min(1).max(200) });
const contractBody = z.object({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  role: z.enum(['controller', 'processor']),
  purpose: z.string().min(1).max(200),
  legalBasis: z.enum([
    'contract',
    'consent',
    'legal_obligation',
    'vital_interests',
    'public_task',
    'legitimate_interests',
  ]),
  startsOn: date,
  endsOn: date.nullable().default(null),
  jurisdiction: z.enum(['DK', 'SE']),
  // Art. 5(1)(c): GPS kept only snapped to a grid of this size (ingest/gps-grid.ts); null drops it.
  gpsGridMeters: z.number().int().min(MIN_GRID_METRES).max(MAX_GRID_METRES).nullable().default(null),
  // Refused rather than ignored: a client still sending it would otherwise lose GPS without knowing.
  gpsDecimals: z
    .never({ error: 'gpsDecimals is replaced by gpsGridMeters (cell size in metres)' })
    .optional(),
});
const readerBody = z.object({
  username: z.string().regex(/^[a-z][a-z0-9_]{2,62}$/),
  password: z.string().min(16).max(200),
});
export const tenantParams = z.object({ tenant: tenantId });
const keyVersionParams = tenantParams.extend({ version: z.coerce.number().int().min(1).max(999_999_999) });
const moveBody = z.object({ to: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a configured store name') });

export async function requireTenant(deps: ApiDeps, id: string): Promise<void> {
  if (!(await deps.registry.getTenant(id))) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `tenant ${id}`);
}

export function registerTenantRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post(
    '/v1/tenants',
    {
      schema: { tags: ['tenants'], summary: 'Register a tenant: its own key and database', body: tenantBody },
    },
    async (req, reply) => {
      const body = tenantBody.parse(req.body);
      await deps.registry.createTenant(body);
      // One pseudonymisation domain and one database per tenant, from the start.
      await deps.keyStore.ensureTenant(body.id);
      await deps.store.ensureTenant(body.id);
      // Art. 5(2): every registry change is on the record. The name stays out: free text.
      await deps.audit.append({
        actor: 'operator',
        action: 'tenant.create',
        tenantId: body.id,
        target: body.id,
        detail: { keyVersion: deps.keyStore.currentVersion(body.id) },
      });
      return reply.code(201).send(body);
    },
  );

  app.get('/v1/tenants', { schema: { tags: ['tenants'], summary: 'Every tenant' } }, async () =>
    deps.registry.listTenants(),
  );

  app.post(
    '/v1/tenants/:tenant/contracts',
    {
      schema: {
        tags: ['contracts'],
        summary: 'Register a contract: role, purpose, legal basis, jurisdiction',
        params: tenantParams,
        body: contractBody,
      },
    },
    async (req, reply) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const body = contractBody.parse(req.body);
      if (body.endsOn !== null && body.endsOn < body.startsOn) {
        throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'endsOn is before startsOn');
      }
      const created = await deps.registry.createContract({ tenantId: tenant, ...body });
      // The purpose is free text and stays out; role, basis and dates are what an auditor asks for.
      await deps.audit.append({
        actor: 'operator',
        action: 'contract.create',
        tenantId: tenant,
        target: body.id,
        detail: {
          role: body.role,
          legalBasis: body.legalBasis,
          startsOn: body.startsOn,
          endsOn: body.endsOn,
          jurisdiction: body.jurisdiction,
          gpsDecimals: body.gpsDecimals,
        },
      });
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/v1/tenants/:tenant/contracts',
    { schema: { tags: ['contracts'], summary: "A tenant's contracts", params: tenantParams } },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      return deps.registry.listContracts(tenant);
    },
  );

  // Starts a new key version; data under older versions stays findable (registry keeps every version's pseudonyms).
  app.post(
    '/v1/tenants/:tenant/keys/rotate',
    {
      schema: {
        tags: ['tenants'],
        summary: 'Start a new pseudonymisation key version',
        params: tenantParams,
      },
    },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const version = await deps.keyStore.rotate(tenant);
      deps.logger.info({ tenant, version }, 'pseudonymisation key rotated');
      await deps.audit.append({
        actor: 'operator',
        action: 'keys.rotate',
        tenantId: tenant,
        detail: { version },
      });
      return { tenant, version };
    },
  );

  // Crypto-shredding (docs/retention.md): an old version's key and pseudonym mappings go for good.
  const shredder = createKeyShredder({ ...deps, sealer: createSealer(deps.keyStore) });
  app.post(
    '/v1/tenants/:tenant/keys/:version/destroy',
    {
      schema: {
        tags: ['tenants'],
        summary: 'Crypto-shredding: destroy an old key version and its pseudonym mappings',
        params: keyVersionParams,
      },
    },
    async (req, reply) => {
      const { tenant, version } = keyVersionParams.parse(req.params);
      await requireTenant(deps, tenant);
      try {
        const receipt = await shredder.destroy(tenant, version);
        deps.logger.info({ tenant, version }, 'pseudonymisation key version destroyed');
        return receipt;
      } catch (err) {
        // Which holds, requests and contracts need it, so the operator knows what to wait for.
        if (err instanceof KeyInUseError)
          return reply.code(409).send({ code: err.code, message: err.message, needs: err.needs });
        throw err;
      }
    },
  );

  app.get(
    '/v1/stores',
    { schema: { tags: ['stores'], summary: 'The configured InfluxDB stores and the tenants on each' } },
    async () => {
      const placements = await Promise.all(
        (await deps.registry.listTenants()).map((t) => deps.store.placementOf(t.id)),
      );
      return deps.store.names().map((name) => ({
        name,
        tenants: placements.filter((p) => p.store === name).map((p) => p.tenantId),
        incoming: placements.filter((p) => p.movingTo === name).map((p) => p.tenantId),
      }));
    },
  );

  // Copies, verifies, switches and drops (store/tenant-move.ts); answers when the move is done.
  app.post(
    '/v1/tenants/:tenant/move',
    {
      schema: {
        tags: ['stores'],
        summary: "Move the tenant's telemetry to another configured store (or resume its move)",
        params: tenantParams,
        body: moveBody,
      },
    },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const { to } = moveBody.parse(req.body);
      return deps.tenantMoves.move(tenant, to);
    },
  );

  // A read-only InfluxDB login for one tenant's database (Grafana data source).
  app.put(
    '/v1/tenants/:tenant/dashboard-credential',
    {
      schema: {
        tags: ['tenants'],
        summary: "A read-only InfluxDB login for the tenant's database",
        params: tenantParams,
        body: readerBody,
      },
    },
    async (req) => {
      const { tenant } = tenantParams.parse(req.params);
      await requireTenant(deps, tenant);
      const body = readerBody.parse(req.body);
      await deps.store.grantReader(tenant, body.username, body.password);
      // Who may read the tenant's database: the login's name, never its password.
      await deps.audit.append({
        actor: 'operator',
        action: 'dashboard.credential',
        tenantId: tenant,
        target: body.username,
        detail: { database: deps.store.databaseFor(tenant) },
      });
      return { tenant, username: body.username, database: deps.store.databaseFor(tenant) };
    },
  );
}
