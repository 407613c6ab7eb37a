/**
 * `app.secureCookies` is true when the API speaks HTTPS (SKJOLD_API_TLS_CERT
 * and SKJOLD_API_TLS_KEY): a cookie set then carries `Secure`, so a browser
 * never sends a session over plain HTTP (art. 32(1)(a): encryption in transit).
 */
declare module 'fastify' {
  interface FastifyInstance {
    secureCookies: boolean;
  }
}

export {};
