import type { Readable } from 'node:stream';
import { excludedDevices } from './exclusions.ts';
import { type ExportDevice, type ExportFormat, exportStream } from './export.ts';
import { subjectInformation } from './information.ts';
import { windowsByPseudonym } from './periods.ts';
import type { Rights } from './rights.ts';

/**
 * A subject's export (art. 15, 20), for the tenant only: its devices' raw
 * identifiers unsealed, the art. 15 information, special-category notes,
 * restriction and objections, the subject's requests, and every point of
 * its devices under every key version — inside the subject's occupancy
 * periods only: a meter's earlier and later occupants' readings are theirs
 * (art. 15(4)).
 */
export async function subjectExport(
  rights: Rights,
  tenantId: string,
  ref: string,
  format: ExportFormat,
  request: { id: string; kind: string },
): Promise<Readable> {
  const devices = await rights.subjects.devicesOf(tenantId, ref);
  const contracts = await rights.contractsOf(tenantId);
  const exported: ExportDevice[] = [];
  for (const d of devices) {
    exported.push({
      deviceId: d.device.id,
      kind: d.device.kind,
      identifiers: await rights.subjects.identifiersOf(tenantId, d.device.id),
      pseudonyms: d.pseudonyms,
    });
  }
  const header = {
    format: 'skjold-export/1' as const,
    generatedAt: rights.deps.clock().toISOString(),
    tenant: tenantId,
    view: 'tenant' as const,
    subject: { ref, pseudonym: rights.sealer.subjectPseudonym(tenantId, ref) },
    request,
    information: subjectInformation(
      devices.map((d) => d.device),
      contracts,
      { operatorName: rights.deps.operatorName, subProcessors: rights.deps.subProcessors },
      devices.flatMap((d) => d.periods.map((p) => ({ deviceId: d.device.id, ...p }))),
    ),
    status: await rights.subjects.status(tenantId, ref),
    specialCategory: await rights.subjects.specialCategory(tenantId, ref),
    requests: await rights.requests.list({
      tenantId,
      subjects: rights.sealer.subjectPseudonyms(tenantId, ref),
    }),
  };
  return exportStream(
    rights.pages(tenantId),
    { deviceIn: devices.flatMap((d) => d.pseudonyms), windows: windowsByPseudonym(devices) },
    header,
    exported,
    format,
  );
}

/**
 * Everything of one tenant (art. 28(3)(g): its data back before deletion).
 * To the tenant: with raw identifiers and restricted subjects. To anyone
 * else (the operator): pseudonyms only, restricted subjects' devices left out (art. 18).
 */
export async function tenantExport(
  rights: Rights,
  tenantId: string,
  format: ExportFormat,
  view: 'tenant' | 'operator',
): Promise<Readable> {
  const devices = await rights.deps.registry.listDevices(tenantId);
  const restricted = view === 'operator' ? await excludedDevices(rights.deps.registry.sql, { tenantId }) : [];
  const restrictedIds = new Set(restricted.map((d) => d.deviceId));
  const exported: ExportDevice[] = [];
  for (const device of devices) {
    if (restrictedIds.has(device.id)) continue;
    exported.push({
      deviceId: device.id,
      kind: device.kind,
      ...(view === 'tenant' ? { identifiers: await rights.subjects.identifiersOf(tenantId, device.id) } : {}),
      pseudonyms: await rights.subjects.loginPseudonyms(device),
    });
  }
  const header = {
    format: 'skjold-export/1' as const,
    generatedAt: rights.deps.clock().toISOString(),
    tenant: tenantId,
    view,
    contracts: await rights.deps.registry.listContracts(tenantId),
    ...(view === 'operator' ? { excludedDevices: restricted.length } : {}),
  };
  return exportStream(
    rights.pages(tenantId),
    { deviceNotIn: new Set(restricted.flatMap((d) => d.pseudonyms)) },
    header,
    exported,
    format,
  );
}
