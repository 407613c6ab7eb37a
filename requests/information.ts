import { COMMON_STORED_FIELDS, STORED_FIELDS } from '../ingest/schemas.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import type { Contract, Device, OccupancyPeriod } from '../registry/registry.ts';

const CATEGORIES: Record<DeviceKind, string> = {
  heat_meter: 'heat consumption: energy, volume, flow and return temperature, power, flow, meter status',
  sim_unit: 'connectivity: signal quality, data volume, country of the serving network',
  building_sensor: 'indoor climate and presence: temperature, humidity, CO₂, occupancy',
};

const BOOKKEEPING: Record<Contract['jurisdiction'], string> = {
  DK: 'billing readings: the current fiscal year + 5 years (bogføringsloven)',
  SE: 'billing readings: 7 years after the end of the calendar year of the fiscal year (bokföringslagen)',
};

/**
 * Art. 15(1)(a)–(h) for one subject, read off the contracts of the subject's
 * devices: purposes, legal bases, categories, recipients, retention, source.
 */
export function subjectInformation(
  devices: readonly Device[],
  contracts: ReadonlyMap<string, Contract>,
  processors: { operatorName?: string | undefined; subProcessors?: readonly string[] | undefined } = {},
  periods: readonly OccupancyPeriod[] = [],
) {
  const used = [...new Set(devices.map((d) => d.contractId))]
    .map((id) => contracts.get(id))
    .filter((c): c is Contract => c !== undefined);
  const kinds = [...new Set(devices.map((d) => d.kind))];
  return {
    controller:
      'the tenant (art. 4(7)); Skjold’s operator processes on its behalf where the role is processor',
    purposes: used.map((c) => ({
      contract: c.id,
      purpose: c.purpose,
      role: c.role,
      legalBasis: c.legalBasis,
      jurisdiction: c.jurisdiction,
    })),
    categories: kinds.map((k) => ({
      kind: k,
      description: CATEGORIES[k],
      fields: [...Object.keys(STORED_FIELDS[k]), ...Object.keys(COMMON_STORED_FIELDS)],
    })),
    recipients: [
      { name: 'the tenant', role: 'controller' },
      {
        name: processors.operatorName ?? 'the Skjold operator',
        role: 'processor (art. 28) or controller for its own statistics, per contract',
      },
      ...(processors.subProcessors ?? []).map((name) => ({ name, role: 'sub-processor (art. 28(2))' })),
    ],
    retention: used.map((c) => ({
      contract: c.id,
      telemetry: c.endsOn ? `until ${c.endsOn} + 1 year` : 'until the contract ends + 1 year',
      billing: BOOKKEEPING[c.jurisdiction],
    })),
    source:
      'the devices linked to the subject, over MQTT; identifiers are pseudonymised on arrival (art. 4(5))',
    // Art. 15(1): the data "concerning him or her" — of a device others occupied too, its periods only.
    periods: periods.map((p) => ({ device: p.deviceId, from: p.from, to: p.to })),
    automatedDecisions: 'none (art. 22)',
    rights:
      'access and portability (art. 15, 20), rectification (art. 16), erasure (art. 17), restriction (art. 18), ' +
      'objection (art. 21), withdrawal of consent (art. 7(3)), complaint to a supervisory authority (art. 77)',
  };
}
