/**
 * The console's sections, by URL hash. An operator may put a tenant in front
 * (`#/tenants/<tenant>/telemetry`); a tenant user's tenant comes from the
 * session, so a hash naming any tenant shows nothing to them.
 */
export const SECTIONS = [
  { id: 'telemetry', title: 'Telemetry explorer', nav: 'Telemetry' },
  { id: 'fleet', title: 'Fleet health', nav: 'Fleet health' },
  { id: 'privacy', title: 'Privacy desk', nav: 'Privacy desk' },
  { id: 'records', title: 'Records of processing (art. 30)', nav: 'Records (art. 30)' },
];

const SECTION_IDS = new Set(SECTIONS.map((s) => s.id));

/** `#/tenants/a/telemetry?kind=heat_meter` -> {tenant: 'a', section: 'telemetry', params}. */
export function parseHash(hash) {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = text.split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(search);
  if (parts.length === 0) return { tenant: null, section: 'telemetry', params };
  if (parts[0] === 'tenants') {
    const section = parts[2] ?? 'telemetry';
    if (parts.length < 2 || parts.length > 3 || !SECTION_IDS.has(section)) return { notFound: true };
    return { tenant: parts[1], section, params };
  }
  if (parts.length !== 1 || !SECTION_IDS.has(parts[0])) return { notFound: true };
  return { tenant: null, section: parts[0], params };
}

export function hashFor(section, tenant, params) {
  const path = tenant ? `#/tenants/${encodeURIComponent(tenant)}/${section}` : `#/${section}`;
  const q = params ? new URLSearchParams(params).toString() : '';
  return q ? `${path}?${q}` : path;
}
