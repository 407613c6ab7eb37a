import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { PUBLIC } from './access.ts';
import { withAccess } from './guard.ts';

export const DOCS_PREFIX = '/docs';

/**
 * The API documents itself: each route's zod schemas (params, query, body)
 * both validate its requests (fastify-type-provider-zod) and become its
 * OpenAPI description (@fastify/swagger), served with a UI at /docs and as
 * JSON at /docs/json. Call before any route is registered: the spec is built
 * from the routes added after it.
 */
export function addOpenApi(app: FastifyInstance, version: string): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.register(swagger, {
    openapi: {
      info: {
        title: 'Skjold API',
        version,
        description:
          'Operators (`/v1`, operator token or console session) and tenants (`/tenant/v1`, scoped tenant token or console session). ' +
          'Errors are `{ code, message }` with a `SKJOLD_ERR_*` code (docs/errors.md).',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'Operator token or a tenant token (skjt_…)',
          },
          session: { type: 'apiKey', in: 'cookie', name: 'skjold_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
  });
  // Documentation, not data: readable without a login, like the docs/ folder it complements.
  app.register(async (docs) => {
    withAccess(docs, PUBLIC);
    await docs.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  });
}
