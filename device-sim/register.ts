/**
 * Registers a fleet through a Registrar (Skjold's HTTP API in practice).
 * Idempotent: tenants that exist are fine (the registrar absorbs 409), and a
 * device the registry already holds (409 / SKJOLD_ERR_CONFLICT) is counted as
 * existing, not as a failure, so a second run after a crash picks up where the
 * first stopped.
 */
import type { Fleet, SimDevice } from './fleet.ts';
import { mapLimit } from './map-limit.ts';
import type { Registrar } from './registrar.ts';

export interface RegisterOptions {
  /** Requests in flight at once (default 8). */
  concurrency?: number;
}

export interface RegisterResult {
  /** The fleet's devices with the contract id and secret the registry confirmed. */
  devices: SimDevice[];
  /** Registry device id per login; null when the device already existed and no id came back. */
  deviceIds: Record<string, string | null>;
  created: number;
  existing: number;
}

export async function registerFleet(
  fleet: Pick<Fleet, 'tenants' | 'contracts' | 'devices'>,
  registrar: Registrar,
  opts: RegisterOptions = {},
): Promise<RegisterResult> {
  const limit = opts.concurrency ?? 8;
  await mapLimit(fleet.tenants, limit, (t) => registrar.ensureTenant({ id: t.id, name: t.name }));

  // The registry may assign its own contract ids; devices follow whatever it returns.
  const contractIds = new Map<string, string>();
  await mapLimit(fleet.contracts, limit, async (c) => {
    const { tenantId, kind: _kind, ...input } = c;
    const { id } = await registrar.ensureContract(tenantId, input);
    contractIds.set(c.id, id);
  });

  let created = 0;
  let existing = 0;
  const deviceIds: Record<string, string | null> = {};
  const devices = await mapLimit(fleet.devices, limit, async (d): Promise<SimDevice> => {
    const contractId = contractIds.get(d.contractId) ?? d.contractId;
    try {
      const res = await registrar.addDevice(d.tenantId, {
        kind: d.kind,
        contractId,
        identifiers: d.identifiers,
        secret: d.secret,
      });
      created++;
      deviceIds[d.login] = res.id;
      return { ...d, contractId, secret: res.secret || d.secret };
    } catch (err) {
      if (!isConflict(err)) throw err;
      existing++;
      deviceIds[d.login] = null;
      return { ...d, contractId };
    }
  });
  return { devices, deviceIds, created, existing };
}

function isConflict(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { status?: unknown; statusCode?: unknown; code?: unknown };
  return e.status === 409 || e.statusCode === 409 || e.code === 'SKJOLD_ERR_CONFLICT';
}
