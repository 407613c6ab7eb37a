import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFleet } from './fleet.ts';
import { registerFleet } from './register.ts';
import type { ContractInput, DeviceInput, Registrar } from './registrar.ts';

/** An in-memory registry behaving like the HTTP API: 409 on a second device with the same identifiers. */
function memoryRegistrar() {
  const tenants = new Set<string>();
  const contracts = new Map<string, ContractInput & { tenantId: string }>();
  const devices = new Map<string, DeviceInput & { tenantId: string; id: string }>();
  let inFlight = 0;
  let maxInFlight = 0;
  const track = async <T>(fn: () => T): Promise<T> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    try {
      return fn();
    } finally {
      inFlight--;
    }
  };
  const registrar: Registrar = {
    ensureTenant: (t) => track(() => void tenants.add(t.id)),
    ensureContract: (tenantId, c) =>
      track(() => {
        contracts.set(`srv-${c.id}`, { ...c, tenantId });
        return { id: `srv-${c.id}` };
      }),
    addDevice: (tenantId, d) =>
      track(() => {
        const key = JSON.stringify(d.identifiers);
        if (devices.has(key)) throw Object.assign(new Error('already exists'), { status: 409 });
        if (!contracts.has(d.contractId)) throw new Error(`unknown contract ${d.contractId}`);
        const id = `dev-${devices.size + 1}`;
        devices.set(key, { ...d, tenantId, id });
        return { id, secret: d.secret ?? 'server-made' };
      }),
  };
  return { registrar, tenants, contracts, devices, maxInFlight: () => maxInFlight };
}

const fleet = createFleet({
  seed: 'reg',
  tenants: [
    { id: 'a', name: 'A', jurisdiction: 'DK', role: 'processor' },
    { id: 'b', name: 'B', jurisdiction: 'SE', role: 'controller' },
  ],
  devicesPerKind: 10,
});

test('registers tenants, contracts and devices with bounded concurrency', async () => {
  const mem = memoryRegistrar();
  const res = await registerFleet(fleet, mem.registrar);
  assert.equal(res.created, 60);
  assert.equal(res.existing, 0);
  assert.equal(mem.tenants.size, 2);
  assert.equal(mem.contracts.size, 6);
  assert.equal(mem.devices.size, 60);
  assert.ok(mem.maxInFlight() <= 8, `max in flight ${mem.maxInFlight()}`);
  assert.ok(mem.maxInFlight() > 1, 'runs requests in parallel');
  // Devices point at the contract ids the registry assigned, and keep their secrets.
  for (const d of res.devices) {
    assert.ok(d.contractId.startsWith('srv-'));
    assert.equal(d.secret, fleet.devices.find((x) => x.login === d.login)?.secret);
    assert.match(res.deviceIds[d.login] ?? '', /^dev-/);
  }
});

test('a second run is harmless', async () => {
  const mem = memoryRegistrar();
  await registerFleet(fleet, mem.registrar, { concurrency: 3 });
  const again = await registerFleet(fleet, mem.registrar, { concurrency: 3 });
  assert.equal(again.created, 0);
  assert.equal(again.existing, 60);
  assert.equal(mem.devices.size, 60);
  assert.ok(mem.maxInFlight() <= 3);
});

test('other registry errors are not swallowed', async () => {
  const mem = memoryRegistrar();
  const failing: Registrar = { ...mem.registrar, addDevice: async () => Promise.reject(new Error('boom')) };
  await assert.rejects(registerFleet(fleet, failing), /boom/);
});
