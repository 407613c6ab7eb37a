import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PUBLIC, USER } from './access.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONSOLE_DIR = join(root, 'console');
const ASSETS_DIR = join(CONSOLE_DIR, 'assets');
// Wherever npm put it (hoisted or not): uPlot's own `main` lives in its dist folder.
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));

/**
 * The console's pages: the sign-in page and the console itself. The console
 * routes between its sections by URL hash (`/#/telemetry`, ...), so these
 * two paths are all the server needs to answer with a page.
 */
export const CONSOLE_PAGES = { login: '/login', console: '/' } as const;

/** Where the browser gets the console's scripts and styles, and uPlot (served from node_modules, no CDN). */
export const CONSOLE_ASSETS = '/console/assets/';
const VENDOR_FILES: Readonly<Record<string, string>> = {
  'uPlot.esm.js': 'uPlot.esm.js',
  'uPlot.min.css': 'uPlot.min.css',
};

// The pages carry no data: everything they show comes from the JSON API with
// the session's own access rules. Still, no page may be framed by another site
// or run script from anywhere but here (art. 32: security of processing).
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * Registers the console: /login for anyone, / for signed-in users only (a
 * signed-out browser is sent to /login), and the static assets.
 */
export function registerConsoleRoutes(app: FastifyInstance): void {
  app.register(async (scope) => {
    // Registered here, in its own scope: `reply.sendFile` exists only for these routes.
    await scope.register(fastifyStatic, { root: ASSETS_DIR, serve: false });

    // A signed-out browser asking for the console gets the sign-in page. Anything else (no `Accept:
    // text/html`: scripts, probes) gets the guard's 401, the same as any other route without a credential.
    scope.addHook('onSend', async (req, reply, payload) => {
      if (reply.statusCode !== 401 || req.routeOptions.url !== CONSOLE_PAGES.console) return payload;
      if (!req.headers.accept?.includes('text/html')) return payload;
      reply.code(302).header('location', CONSOLE_PAGES.login).type('text/plain; charset=utf-8');
      return '';
    });

    const page = (summary: string) => ({ tags: ['console'], summary });
    // Files, not API: described (every route is) but left out of the OpenAPI document.
    const asset = (summary: string) => ({ tags: ['console'], summary, hide: true });

    scope.get(
      CONSOLE_PAGES.login,
      { config: { access: PUBLIC }, schema: page('The sign-in page') },
      (_req, reply) =>
        reply.headers(PAGE_HEADERS).sendFile('login.html', CONSOLE_DIR, { cacheControl: false }),
    );
    scope.get(
      CONSOLE_PAGES.console,
      { config: { access: USER }, schema: page('The console (signed-out browsers are sent to /login)') },
      (_req, reply) =>
        reply.headers(PAGE_HEADERS).sendFile('index.html', CONSOLE_DIR, { cacheControl: false }),
    );
    scope.get(
      `${CONSOLE_ASSETS}vendor/:file`,
      {
        config: { access: PUBLIC },
        schema: {
          ...asset('uPlot, from node_modules/uplot/dist'),
          params: z.object({ file: z.string().max(64) }),
        },
      },
      (req, reply) => {
        const file = VENDOR_FILES[(req.params as { file: string }).file];
        if (!file) return reply.callNotFound();
        return reply.sendFile(file, UPLOT_DIR, { maxAge: 3_600_000 });
      },
    );
    // @fastify/send keeps every path inside ASSETS_DIR ('..' is refused).
    scope.get(
      `${CONSOLE_ASSETS}*`,
      { config: { access: PUBLIC }, schema: asset('The console’s scripts and styles') },
      (req, reply) =>
        // Revalidated on every load: a new version of the console is picked up at once.
        reply
          .header('cache-control', 'no-cache')
          .sendFile((req.params as { '*': string })['*'], { cacheControl: false }),
    );
  });
}
