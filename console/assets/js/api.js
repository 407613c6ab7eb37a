/**
 * The console's only way to the server: the JSON API with the session cookie.
 * Writes carry the CSRF token the session gave us; a 401 anywhere means the
 * session is over, and the browser goes back to the sign-in page.
 */

let csrfToken = '';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? null;
  }
}

export const setCsrfToken = (token) => {
  csrfToken = token ?? '';
};

const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    const text = Array.isArray(v) ? v.join(',') : v === undefined || v === null ? '' : String(v);
    if (text !== '') q.set(k, text);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
};

async function request(method, path, { params, body, raw = false, redirectOn401 = true } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken;
  const res = await fetch(`${path}${query(params)}`, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401 && redirectOn401) {
    location.replace('/login');
    throw new ApiError(401, { code: 'SKJOLD_ERR_AUTH', message: 'signed out' });
  }
  if (!res.ok) {
    let detail = null;
    try {
      detail = await res.json();
    } catch {
      // A body that is not JSON (a proxy's error page) says nothing more than the status.
    }
    throw new ApiError(res.status, detail);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const session = {
  current: () => request('GET', '/console/session', { redirectOn401: false }),
  login: (username, password) =>
    request('POST', '/console/login', { body: { username, password }, redirectOn401: false }),
  loginWithCode: (code) => request('POST', '/console/login', { body: { code }, redirectOn401: false }),
  logout: () => request('POST', '/console/logout', { redirectOn401: false }),
};

/**
 * The API for one signed-in user. An operator names the tenant in the path;
 * a tenant user never does: the server takes the tenant from the session.
 */
export function apiFor(user) {
  const operator = user.role === 'operator';
  const t = (tenant, path) =>
    operator ? `/v1/tenants/${encodeURIComponent(tenant)}${path}` : `/tenant/v1${path}`;
  return {
    operator,
    tenants: () => (operator ? request('GET', '/v1/tenants') : Promise.resolve([])),
    fields: () => request('GET', operator ? '/v1/telemetry/fields' : '/tenant/v1/telemetry/fields'),
    devices: (tenant, kind) => request('GET', t(tenant, '/telemetry/devices'), { params: { kind } }),
    telemetry: (tenant, params) => request('GET', t(tenant, '/telemetry'), { params }),
    fleet: (tenant) =>
      operator
        ? request('GET', '/v1/fleet/health', { params: { tenant } })
        : request('GET', '/tenant/v1/fleet/health'),
    desk: (tenant) =>
      operator
        ? request('GET', '/v1/privacy/desk', { params: { tenant } })
        : request('GET', '/tenant/v1/privacy/desk'),
    retentionPreview: (tenant) =>
      operator
        ? request('GET', '/v1/privacy/retention-preview', { params: { tenant } })
        : request('GET', '/tenant/v1/privacy/retention-preview'),
    records: (tenant) =>
      operator
        ? request('GET', '/v1/records', { params: { tenant, format: 'json' } })
        : request('GET', '/tenant/v1/records', { params: { format: 'json' } }),
    // Tenant DPO's actions on its own requests (art. 12(3), 15, 20).
    listRequests: () => request('GET', '/tenant/v1/requests'),
    fileRequest: (subjectRef, kind) => request('POST', '/tenant/v1/requests', { body: { subjectRef, kind } }),
    extendRequest: (id, months, reason) =>
      request('POST', `/tenant/v1/requests/${encodeURIComponent(id)}/extend`, { body: { months, reason } }),
    completeRequest: (id, outcome) =>
      request('POST', `/tenant/v1/requests/${encodeURIComponent(id)}/complete`, {
        body: outcome ? { outcome } : {},
      }),
    // Art. 17, 18, 21, 7(3): the subject's endpoint, answering the request it names.
    carryOut: (subjectRef, path, body) =>
      request('POST', `/tenant/v1/subjects/${encodeURIComponent(subjectRef)}/${path}`, { body }),
    exportTenant: (format) => request('GET', '/tenant/v1/export', { params: { format }, raw: true }),
    exportSubject: (subjectRef, requestId, format) =>
      request('GET', `/tenant/v1/subjects/${encodeURIComponent(subjectRef)}/export`, {
        params: { request: requestId, format },
        raw: true,
      }),
  };
}
