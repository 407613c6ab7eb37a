import type { ContractInput, DeviceInput, Registrar } from '../device-sim/registrar.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * A client of Skjold's HTTP API: what the CLI and the device simulator use, so
 * they register through the same door an operator's own tooling would.
 */
export function createApiClient(options: { url: string; token: string }) {
  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const res = await fetch(new URL(path, options.url), {
      method,
      headers: {
        authorization: `Bearer ${options.token}`,
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const err = (parsed ?? {}) as { code?: string; message?: string };
      throw new ApiError(res.status, err.code ?? 'SKJOLD_ERR_INTERNAL', err.message ?? `HTTP ${res.status}`);
    }
    return parsed as T;
  }

  /** Status and body as text, for answers that are not JSON or whose failure is itself the answer. */
  async function raw(method: string, path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(new URL(path, options.url), {
      method,
      headers: { authorization: `Bearer ${options.token}` },
    });
    return { status: res.status, text: await res.text() };
  }

  const ignoreConflict = (err: unknown) => {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
  };

  const client = {
    url: options.url,
    call,
    raw,
    createTenant: (t: { id: string; name: string }) => call('POST', '/v1/tenants', t),
    listTenants: () => call<Array<{ id: string; name: string }>>('GET', '/v1/tenants'),
    createContract: (tenantId: string, c: ContractInput & { gpsGridMeters?: number | null }) =>
      call<{ id: string }>('POST', `/v1/tenants/${tenantId}/contracts`, c),
    addDevice: (tenantId: string, d: DeviceInput) =>
      call<{ id: string; secret: string; pseudonym: string }>('POST', `/v1/tenants/${tenantId}/devices`, d),
    importDevices: (tenantId: string, csv: string) =>
      call<{ imported: number; results: unknown[] }>(
        'POST',
        `/v1/tenants/${tenantId}/devices/import`,
        csv,
        'text/csv',
      ),
    listDevices: (tenantId: string) => call<unknown[]>('GET', `/v1/tenants/${tenantId}/devices`),
    rotateKey: (tenantId: string) =>
      call<{ version: number }>('POST', `/v1/tenants/${tenantId}/keys/rotate`, {}),
    dashboardCredential: (tenantId: string, username: string, password: string) =>
      call('PUT', `/v1/tenants/${tenantId}/dashboard-credential`, { username, password }),
    /** Links a subject to a device for [from, to) (ISO dates or date-times; omitted: open-ended). */
    linkSubject: (
      tenantId: string,
      ref: string,
      deviceId: string,
      period: { from?: string | undefined; to?: string | undefined } = {},
    ) =>
      call('PUT', `/v1/tenants/${tenantId}/subjects/${encodeURIComponent(ref)}/devices`, {
        deviceId,
        ...period,
      }),
  };

  const registrar: Registrar = {
    ensureTenant: (t) => client.createTenant(t).then(() => undefined, ignoreConflict),
    ensureContract: (tenantId, c) =>
      client.createContract(tenantId, c).then(
        () => ({ id: c.id }),
        (err: unknown) => {
          ignoreConflict(err);
          return { id: c.id };
        },
      ),
    addDevice: (tenantId, d) => client.addDevice(tenantId, d),
  };

  return { ...client, registrar };
}

export type ApiClient = ReturnType<typeof createApiClient>;
