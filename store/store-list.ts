/**
 * The InfluxDB servers Skjold may place tenants on, by name
 * (SKJOLD_INFLUX_STORES, docs/stores.md). The server at SKJOLD_INFLUX_URL is
 * always one of them, named `default`: a configuration from before several
 * stores means what it meant.
 */
import type { Config } from '../lib/config.ts';
import { SkjoldError } from '../lib/errors.ts';

export interface StoreSpec {
  name: string;
  url: string;
  username?: string;
  password?: string;
}

export const DEFAULT_STORE = 'default';
const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

function invalid(detail: string): SkjoldError {
  return new SkjoldError('SKJOLD_ERR_CONFIG', `SKJOLD_INFLUX_STORES: ${detail}`);
}

function checkUrl(name: string, url: string): URL {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    return parsed;
  } catch {
    throw invalid(`store ${name}: not an http(s) URL`);
  }
}

/** `name=url;name=url`, credentials (if any) in the URL's user info. */
function parsePairs(text: string): StoreSpec[] {
  return text
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw invalid(`"${entry.slice(0, 40)}" is not name=url`);
      const name = entry.slice(0, eq).trim();
      const url = checkUrl(name, entry.slice(eq + 1).trim());
      const spec: StoreSpec = { name, url: '' };
      if (url.username) spec.username = decodeURIComponent(url.username);
      if (url.password) spec.password = decodeURIComponent(url.password);
      url.username = '';
      url.password = '';
      spec.url = url.origin + url.pathname.replace(/\/$/, '');
      return spec;
    });
}

/** `{"name": {"url": …, "user": …, "password": …}, …}` */
function parseJson(text: string): StoreSpec[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('JSON must be an object of name → {url, user, password}');
  }
  return Object.entries(parsed as Record<string, unknown>).map(([name, value]) => {
    const v = (value ?? {}) as { url?: unknown; user?: unknown; password?: unknown };
    if (typeof v.url !== 'string') throw invalid(`store ${name}: url is required`);
    checkUrl(name, v.url);
    const spec: StoreSpec = { name, url: v.url.replace(/\/$/, '') };
    if (typeof v.user === 'string') spec.username = v.user;
    if (typeof v.password === 'string') spec.password = v.password;
    return spec;
  });
}

/** Every configured store, `default` first; names unique and well-formed. */
export function storeSpecs(config: Config): StoreSpec[] {
  const text = config.SKJOLD_INFLUX_STORES.trim();
  const extra = text === '' ? [] : text.startsWith('{') ? parseJson(text) : parsePairs(text);
  const specs: StoreSpec[] = [
    {
      name: DEFAULT_STORE,
      url: config.SKJOLD_INFLUX_URL,
      username: config.SKJOLD_INFLUX_USER,
      password: config.SKJOLD_INFLUX_PASSWORD,
    },
  ];
  for (const spec of extra) {
    if (!NAME.test(spec.name)) throw invalid(`store name "${spec.name.slice(0, 40)}" must match ${NAME}`);
    // `default` is SKJOLD_INFLUX_URL's; naming it twice would leave which one wins to chance.
    if (specs.some((s) => s.name === spec.name)) throw invalid(`store ${spec.name} is named twice`);
    specs.push(spec);
  }
  if (!specs.some((s) => s.name === config.SKJOLD_INFLUX_NEW_TENANT_STORE)) {
    throw new SkjoldError(
      'SKJOLD_ERR_CONFIG',
      `SKJOLD_INFLUX_NEW_TENANT_STORE: no store named ${config.SKJOLD_INFLUX_NEW_TENANT_STORE}`,
    );
  }
  return specs;
}
