/**
 * Phase A's points: what the pipeline writes, made the way the pipeline makes
 * them. Each device's readings go through ingest's `transformMessage` with a
 * real pseudonymizer and the tags the authenticator attaches, so measurement,
 * tags and fields match Phase C's points; only seq and time change per write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimDevice } from '../device-sim/fleet.ts';
import { modelState } from '../device-sim/models.ts';
import { reading } from '../device-sim/payloads.ts';
import type { DeviceContext } from '../ingest/device-context.ts';
import { createIngestPseudonymizer } from '../ingest/pseudonymizer-adapter.ts';
import { transformMessage } from '../ingest/transform.ts';
import type { Point } from '../lib/point.ts';
import { openKeyStore } from '../pseudonymizer/keystore.ts';
import { createPseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import { LOGIN_TYPE, normaliseIdentifier } from '../registry/enrolment.ts';
import { benchFleet, type FleetSpec } from './bench-fleet.ts';

const VARIANTS = 4; // as many value sets per device as the load generator rotates

/** Per tenant: per device, VARIANTS transformed points. */
export async function transformedPoints(spec: FleetSpec): Promise<Map<string, Point[][]>> {
  const fleet = benchFleet(spec);
  const dir = mkdtempSync(join(tmpdir(), 'skjold-bench-keys-'));
  try {
    const keyStore = await openKeyStore({ file: join(dir, 'keys.json') });
    const pseudonymizer = createPseudonymizer(keyStore);
    const ingestPseudo = createIngestPseudonymizer(pseudonymizer);
    const byTenant = new Map<string, Point[][]>();
    const now = Date.now();
    for (const device of fleet.devices) {
      await keyStore.ensureTenant(device.tenantId);
      const contract = fleet.contracts.find((c) => c.id === device.contractId);
      if (!contract) throw new Error(`no contract ${device.contractId}`);
      const ctx = contextFor(device, contract, pseudonymizer);
      const state = modelState(device);
      const points: Point[] = [];
      for (let v = 0; v < VARIANTS; v++) {
        const payload = Buffer.from(JSON.stringify(reading(device, state, now - v * 3_600_000, 0)));
        const result = transformMessage(ctx, payload, now, ingestPseudo, {
          futureSkewMs: 300_000,
          pastSkewMs: 7 * 86_400_000,
        });
        if (!result.ok) throw new Error(`transform rejected a reading: ${result.detail}`);
        points.push(result.point);
      }
      const list = byTenant.get(device.tenantId) ?? [];
      list.push(points);
      byTenant.set(device.tenantId, list);
    }
    return byTenant;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function contextFor(
  device: SimDevice,
  contract: { id: string; role: string; purpose: string; legalBasis: string },
  pseudonymizer: ReturnType<typeof createPseudonymizer>,
): DeviceContext {
  const loginType = LOGIN_TYPE[device.kind];
  const devicePseudonym = pseudonymizer.pseudonym(
    device.tenantId,
    loginType,
    normaliseIdentifier(loginType, device.login),
  );
  return {
    tenantId: device.tenantId,
    deviceId: device.login,
    kind: device.kind,
    devicePseudonym,
    keyVersion: 1,
    // Readings carry no identifiers of their own, so the login's pseudonym is all ingest would compare.
    ownPseudonyms: new Set([devicePseudonym]),
    // The tags the authenticator attaches (broker/authenticator.ts).
    tags: {
      tenant: device.tenantId,
      device: devicePseudonym,
      contract: contract.id,
      role: contract.role,
      purpose: contract.purpose,
      legal_basis: contract.legalBasis,
    },
    gpsGridMeters: null,
  };
}

/**
 * Batches of `size` points for one tenant at a time, tenants alternating:
 * devices round-robin, each device's points one millisecond apart so no two
 * share a series and a time (which InfluxDB would merge into one).
 */
export function batchSource(byTenant: Map<string, Point[][]>, size: number, baseMs: number) {
  const tenants = [...byTenant.entries()].map(([tenantId, devices]) => ({ tenantId, devices, next: 0 }));
  let turn = 0;
  let seq = 0;
  return (): { tenantId: string; points: Point[] } => {
    const t = tenants[turn++ % tenants.length] as (typeof tenants)[number];
    const points: Point[] = new Array(size);
    const n = t.devices.length;
    for (let i = 0; i < size; i++) {
      const c = t.next++;
      const round = Math.floor(c / n);
      const variant = (t.devices[c % n] as Point[])[round % VARIANTS] as Point;
      points[i] = { ...variant, fields: { ...variant.fields, seq: seq++ }, timestampMs: baseMs + round };
    }
    return { tenantId: t.tenantId, points };
  };
}
