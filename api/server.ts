import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ZodError } from 'zod';
import { isSkjoldError, SkjoldError } from '../lib/errors.ts';
import { requestMetrics } from '../requests/metrics.ts';
import { createRights } from '../requests/rights.ts';
import { METRICS, OPERATOR, PUBLIC } from './access.ts';
import { renderDashboard } from './dashboard.ts';
import type { ApiDeps } from './deps.ts';
import { createFailureLimiter } from './failure-limit.ts';
import { addGuard, withAccess } from './guard.ts';
import { addOpenApi } from './openapi.ts';
import './secure-cookies.ts';
import { registerAuditRoutes } from './routes-audit.ts';
import { registerConsoleRoutes } from './routes-console.ts';
import { registerDeskRoutes } from './routes-desk.ts';
import { registerDeviceRoutes } from './routes-devices.ts';
import { registerFleetRoutes } from './routes-fleet.ts';
import { registerRequestOperatorRoutes } from './routes-requests.ts';
import { registerRetentionRoutes } from './routes-retention.ts';
import { registerSessionRoutes } from './routes-sessions.ts';
import { registerSubjectRoutes } from './routes-subjects.ts';
import { registerTelemetryRoutes } from './routes-telemetry.ts';
import { registerTenantRequestRoutes } from './routes-tenant-requests.ts';
import { registerTenantRoutes } from './routes-tenants.ts';
import { registerUserRoutes } from './routes-users.ts';

/**
 * The HTTP API: operators register tenants, contracts and devices; probes and
 * Prometheus read health and metrics. Built, not listening: main.ts listens,
 * tests call `inject()`.
 */
export function createApi(deps: ApiDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    // Request lines would carry URLs with subject references: not logged.
    logController: new LogController({ disableRequestLogging: true }),
    // HTTPS when a certificate is configured (docs/tls.md): tokens and cookies cross the wire.
    ...(deps.tls ? { https: deps.tls } : {}),
  });
  const rights = createRights(deps);
  const subjectMetrics = requestMetrics(deps.metrics, rights.requests);
  app.decorate('secureCookies', deps.tls !== undefined);

  app.addContentTypeParser(
    'text/csv',
    { parseAs: 'string', bodyLimit: 10 * 1024 * 1024 },
    (_req, body, done) => done(null, body),
  );

  app.setErrorHandler((err, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      // The route's schema refused the request before the handler ran.
      const detail = err.validation
        .map((v) => {
          const path = v.instancePath.split('/').filter(Boolean).join('.');
          return `${path || `(${err.validationContext ?? 'body'})`}: ${v.message}`;
        })
        .join('; ');
      return reply
        .code(400)
        .send({ code: 'SKJOLD_ERR_VALIDATION', message: `request is invalid: ${detail}` });
    }
    if (err instanceof ZodError) {
      const detail = err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      return reply
        .code(400)
        .send({ code: 'SKJOLD_ERR_VALIDATION', message: `request is invalid: ${detail}` });
    }
    if (isSkjoldError(err)) return reply.code(err.statusCode).send({ code: err.code, message: err.message });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status < 500) {
      return reply.code(status).send({ code: 'SKJOLD_ERR_VALIDATION', message: (err as Error).message });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ code: 'SKJOLD_ERR_INTERNAL', message: 'internal error' });
  });

  const failures = createFailureLimiter({ perMinute: deps.limits.authFailuresPerMinute });
  addGuard(app, {
    operatorToken: deps.operatorToken,
    metricsToken: deps.metricsToken,
    tenantTokens: rights.tokens,
    users: deps.users,
    failures,
    refused: (reason, access) => {
      deps.metrics.apiAuthRefused.inc({ reason });
      if (access?.kind === 'tenant') subjectMetrics.tenantAuthRefused.inc({ reason });
    },
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ code: 'SKJOLD_ERR_NOT_FOUND', message: 'not found' }),
  );
  app.register(rateLimit, {
    max: deps.limits.requestsPerMinute,
    timeWindow: 60_000,
    keyGenerator: (req) => req.ip,
    onExceeded: () => deps.metrics.apiRateLimited.inc(),
    errorResponseBuilder: (_req, ctx) =>
      new SkjoldError(
        'SKJOLD_ERR_RATE_LIMITED',
        `at most ${ctx.max} requests a minute; retry in ${ctx.after}`,
      ),
  });

  addOpenApi(app, deps.version ?? '0');

  // Registered after the rate limiter and the OpenAPI plugin, so their per-route hooks reach every route.
  app.register(async (api) => {
    api.get(
      '/healthz',
      { config: { access: PUBLIC }, schema: { tags: ['probes'], summary: 'Alive: the process answers' } },
      async () => ({ status: 'ok' }),
    );
    const probe = { tags: ['probes'], summary: 'Ready: registry, store and broker answer (503 otherwise)' };
    api.get('/readyz', { config: { access: PUBLIC }, schema: probe }, async (_req, reply) => {
      const checks: Record<string, () => Promise<boolean>> = {
        registry: () => deps.registry.sql.query('SELECT 1').then(() => true),
        store: () => deps.store.ping(),
        ...deps.readiness,
      };
      const results: Record<string, boolean> = Object.fromEntries(
        await Promise.all(
          Object.entries(checks).map(
            async ([name, check]) => [name, await check().catch(() => false)] as const,
          ),
        ),
      );
      const ready = Object.values(results).every(Boolean) && (deps.ready?.() ?? true);
      return reply.code(ready ? 200 : 503).send({ ready, ...results });
    });
    const metricsSchema = {
      tags: ['probes'],
      summary: 'Prometheus metrics (scrape token, or loopback only)',
    };
    api.get('/metrics', { config: { access: METRICS }, schema: metricsSchema }, async (_req, reply) =>
      reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
    );
    api.get(
      '/status',
      {
        // Every tenant's name and device counts: the operator's, not a tenant user's.
        config: { access: OPERATOR },
        schema: { tags: ['console'], summary: 'The status page: tenants, device counts and counters' },
      },
      async (_req, reply) => reply.type('text/html; charset=utf-8').send(await renderDashboard(deps)),
    );
    registerSessionRoutes(api, deps, failures);
    registerConsoleRoutes(api);

    // The operator's API: every route registered here is the operator's unless it says otherwise.
    api.register(async (operator) => {
      withAccess(operator, OPERATOR);
      registerTenantRoutes(operator, deps);
      registerDeviceRoutes(operator, deps);
      registerRetentionRoutes(operator, deps);
      registerRequestOperatorRoutes(operator, deps, rights);
      registerAuditRoutes(operator, deps);
      registerUserRoutes(operator, deps);
    });
    // Data-subject requests: tenants under /tenant/v1, each route with its scope.
    registerSubjectRoutes(api, rights, subjectMetrics);
    registerTenantRequestRoutes(api, rights);
    registerFleetRoutes(api, deps);
    registerDeskRoutes(api, deps, rights);
    // Telemetry for charts: each route declares its access (operator, or tenant with telemetry:read).
    registerTelemetryRoutes(api, deps);
  });
  return app;
}
