/**
 * Registers the benchmark fleet through Skjold's HTTP API, as an operator
 * would, and keeps each device's pseudonym (the `device` tag its points
 * carry) so the latency probe can find the sampled devices' points.
 */
import { createApiClient } from '../cli/api-client.ts';
import type { Fleet } from '../device-sim/fleet.ts';
import { registerFleet } from '../device-sim/register.ts';
import type { Registrar } from '../device-sim/registrar.ts';
import { LOGIN_TYPE } from '../registry/enrolment.ts';

export interface Registered {
  /** login → device pseudonym */
  pseudonyms: Map<string, string>;
  created: number;
  seconds: number;
}

export async function registerBenchFleet(fleet: Fleet, apiUrl: string, token: string): Promise<Registered> {
  const api = createApiClient({ url: apiUrl, token });
  const pseudonyms = new Map<string, string>();
  const registrar: Registrar = {
    ...api.registrar,
    async addDevice(tenantId, device) {
      const res = await api.addDevice(tenantId, device);
      const login = device.identifiers[LOGIN_TYPE[device.kind]];
      if (login) pseudonyms.set(login, res.pseudonym);
      return res;
    },
  };
  const t0 = performance.now();
  // scrypt per device dominates; libuv runs four at a time.
  const result = await registerFleet(fleet, registrar, { concurrency: 8 });
  const given = new Map(fleet.devices.map((d) => [d.login, d.secret]));
  for (const device of result.devices) {
    if (given.get(device.login) !== device.secret)
      throw new Error('the registry replaced a device secret; the load process would not know it');
  }
  return { pseudonyms, created: result.created, seconds: Math.round((performance.now() - t0) / 100) / 10 };
}
