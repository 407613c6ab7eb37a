import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFleet, deviceIdentifiers, type FleetTenant } from './fleet.ts';
import { isBuildingSerial, isIccid, isImei, isImsi, isMsisdn, isWmbusId } from './identifiers.ts';

const tenants: FleetTenant[] = [
  { id: 'varme-dk', name: 'Varme DK', jurisdiction: 'DK', role: 'processor' },
  { id: 'iot-se', name: 'IoT SE', jurisdiction: 'SE', role: 'controller' },
  { id: 'bygg-se', name: 'Bygg SE', jurisdiction: 'SE', role: 'processor' },
];

test('a fleet has one contract per tenant and kind and the asked number of devices', () => {
  const fleet = createFleet({ seed: 1, tenants, devicesPerKind: 20 });
  assert.equal(fleet.contracts.length, 9);
  assert.equal(fleet.devices.length, 3 * 3 * 20);
  for (const c of fleet.contracts) {
    const t = tenants.find((x) => x.id === c.tenantId);
    assert.equal(c.role, t?.role);
    assert.equal(c.jurisdiction, t?.jurisdiction);
    assert.match(c.startsOn, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(c.purpose.length > 0);
  }
  for (const d of fleet.devices) {
    assert.ok(
      fleet.contracts.some((c) => c.id === d.contractId && c.tenantId === d.tenantId && c.kind === d.kind),
    );
    assert.match(d.secret, /^[0-9a-f]{32}$/);
  }
});

test('devices carry valid identifiers of their kind; the login is the right one', () => {
  const fleet = createFleet({ seed: 2, tenants, devicesPerKind: 30 });
  for (const d of fleet.devices) {
    const ids = d.identifiers;
    switch (d.kind) {
      case 'sim_unit': {
        assert.ok(isIccid(ids.iccid ?? '') && isImsi(ids.imsi ?? '') && isImei(ids.imei ?? ''));
        assert.ok(isMsisdn(ids.msisdn ?? ''));
        assert.equal(d.login, ids.iccid);
        const country = tenants.find((t) => t.id === d.tenantId)?.jurisdiction;
        assert.ok(ids.imsi?.startsWith(country === 'DK' ? '238' : '240'));
        assert.ok(ids.msisdn?.startsWith(country === 'DK' ? '+45' : '+46'));
        break;
      }
      case 'heat_meter':
        assert.ok(isWmbusId(d.login));
        assert.deepEqual(ids, { wmbus: d.login });
        break;
      case 'building_sensor':
        assert.ok(isBuildingSerial(d.login));
        assert.deepEqual(ids, { serial: d.login });
        break;
    }
  }
});

test('identifiers and secrets are unique within a fleet and recorded', () => {
  const fleet = createFleet({ seed: 3, tenants, devicesPerKind: 200 });
  const ids = deviceIdentifiers(fleet.devices);
  assert.equal(ids.length, 3 * (200 * 4 + 200 + 200));
  assert.equal(new Set(fleet.devices.map((d) => d.login)).size, fleet.devices.length);
  assert.equal(new Set(fleet.devices.map((d) => d.secret)).size, fleet.devices.length);
  assert.deepEqual(new Set(fleet.identifiers.used()), new Set(ids));
});

test('the seed determines the fleet', () => {
  const a = createFleet({ seed: 'x', tenants, devicesPerKind: 5 });
  const b = createFleet({ seed: 'x', tenants, devicesPerKind: 5 });
  const c = createFleet({ seed: 'y', tenants, devicesPerKind: 5 });
  assert.deepEqual(a.devices, b.devices);
  assert.deepEqual(a.contracts, b.contracts);
  assert.notDeepEqual(a.devices, c.devices);
});

test('secretFor overrides one secret without shifting the others', () => {
  const plain = createFleet({ seed: 4, tenants, devicesPerKind: 3 });
  const first = plain.devices[0]?.login;
  const custom = createFleet({
    seed: 4,
    tenants,
    devicesPerKind: 3,
    secretFor: (d) => (d.login === first ? 'fixed-secret' : undefined),
  });
  assert.equal(custom.devices[0]?.secret, 'fixed-secret');
  assert.deepEqual(custom.devices.slice(1), plain.devices.slice(1));
});
