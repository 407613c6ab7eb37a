import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { ZodError } from 'zod';
import { isSkjoldError, SkjoldError } from '../lib/errors.ts';
import { requestMetrics } from '../requests/metrics.ts';
import { createRights } from '../requests/rights.ts';
import { renderDashboard } from './dashboard.ts';
import type { ApiDeps } from './deps.ts';
import { registerAuditRoutes } from './routes-audit.ts';
import { registerConsoleRoutes } from './routes-console.ts';
import { registerDeviceRoutes } from './routes-devices.ts';
import { registerRequestOperatorRoutes } from './routes-requests.ts';
import { registerRetentionRoutes } from './routes-retention.ts';
import { registerSubjectRoutes } from './routes-subjects.ts';
import { registerTenantRoutes } from './routes-tenants.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

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
  });
  const operatorDigest = digest(deps.operatorToken);

  app.addContentTypeParser(
    'text/csv',
    { parseAs: 'string', bodyLimit: 10 * 1024 * 1024 },
    (_req, body, done) => done(null, body),
  );

  app.setErrorHandler((err, req, reply) => {
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

  // Everything under /v1 needs the operator's token.
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/v1/')) return;
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!token || !timingSafeEqual(digest(token), operatorDigest)) throw new SkjoldError('SKJOLD_ERR_AUTH');
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
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
  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  // The console has `/`; the counters page lives on beside it.
  app.get('/status', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(await renderDashboard(deps)),
  );

  registerTenantRoutes(app, deps);
  registerDeviceRoutes(app, deps);
  registerRetentionRoutes(app, deps);
  // Data-subject requests: tenants under /tenant/v1 (own tokens), the operator's side under /v1.
  const rights = createRights(deps);
  registerSubjectRoutes(app, rights, requestMetrics(deps.metrics, rights.requests));
  registerRequestOperatorRoutes(app, deps, rights);
  registerAuditRoutes(app, deps);
  registerConsoleRoutes(app);
  return app;
}
