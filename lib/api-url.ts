import type { Config } from './config.ts';

/** True when the HTTP API listens with HTTPS (both SKJOLD_API_TLS_CERT and SKJOLD_API_TLS_KEY set). */
export function apiTlsOn(config: Config): boolean {
  return Boolean(config.SKJOLD_API_TLS_CERT && config.SKJOLD_API_TLS_KEY);
}

/** The API's URL on this machine, with the scheme the listener speaks. */
export function localApiUrl(config: Config, port: number = config.SKJOLD_API_PORT): string {
  return `${apiTlsOn(config) ? 'https' : 'http'}://${config.SKJOLD_API_HOST}:${port}`;
}

/** Where CLI commands find a running Skjold: SKJOLD_API_URL, else the local listener. */
export function cliApiUrl(config: Config): string {
  return config.SKJOLD_API_URL ?? localApiUrl(config);
}
