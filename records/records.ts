/**
 * Records of processing activities (GDPR art. 30), generated from the
 * registry: one record per contract, in the controller variant (art. 30(1))
 * where the operator decides why data is processed, and the processor variant
 * (art. 30(2)) where it processes on a tenant's behalf.
 */
import { STORED_FIELDS } from '../ingest/schemas.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import type { Contract, Registry } from '../registry/registry.ts';
import { billingKeepUntil } from '../retention/billing.ts';
import { createRetentionPolicies, dueOn, type RetentionPolicy } from '../retention/policy.ts';

export interface RecordsContext {
  registry: Registry;
  /** The operator running Skjold: the controller or the processor in each record. */
  operatorName: string;
  /** Processors the operator uses (hosting, support), as configured. */
  subProcessors: readonly string[];
}

export interface ProcessingRecord {
  variant: 'controller' | 'processor';
  article: 'art. 30(1)' | 'art. 30(2)';
  tenant: { id: string; name: string };
  contract: string;
  controller: string;
  /** Only in the processor variant: who processes on the controller's behalf. */
  processor?: string;
  purposes: string[];
  legalBasis: string;
  jurisdiction: string;
  period: { startsOn: string; endsOn: string | null };
  categoriesOfSubjects: string[];
  categoriesOfData: string[];
  devices: Record<string, number>;
  recipients: string[];
  transfersToThirdCountries: string;
  retention: string[];
  securityMeasures: string[];
}

const SUBJECTS: Record<DeviceKind, string> = {
  heat_meter: 'heat customers: residents and owners of the supplied premises',
  sim_unit: 'users of SIM-connected units (the subscriber behind the SIM)',
  building_sensor: 'occupants of monitored buildings',
};

const DATA: Record<DeviceKind, string> = {
  heat_meter: 'heat consumption readings',
  sim_unit: 'mobile connection quality and traffic volumes; country of the serving network',
  building_sensor: 'indoor climate and occupancy counts',
};

/** Art. 32 measures Skjold itself carries out; the same for every record. */
export const SECURITY_MEASURES = [
  'pseudonymisation at ingest: SIM and meter identifiers replaced by keyed HMAC-SHA-256 pseudonyms, one key per tenant, keys kept apart from registry and telemetry (art. 4(5), 32(1)(a))',
  'location coarsened to country; GPS dropped unless the contract keeps it on a grid of a stated cell size (art. 5(1)(c))',
  'each tenant in its own database, with read-only per-tenant dashboard credentials',
  'devices authenticate with per-device secrets stored as scrypt hashes; MQTT over TLS when a certificate is configured; per-device publish and subscribe rights',
  'API access by operator token and hashed, scoped tenant tokens',
  'no raw identifier in logs, metrics, errors or exports to anyone but the tenant that owns it',
  'hash-chained audit log of every retention action, data-subject request and key rotation',
  'retention carried out by the system: deletion or anonymisation after contract end',
];

function retentionRules(c: Contract, policy: RetentionPolicy, kinds: readonly string[]): string[] {
  const action =
    policy.telemetryAction === 'anonymise'
      ? `anonymised (groups of at least ${policy.anonymiseK} devices, the rest suppressed)`
      : 'deleted';
  const after = `${policy.graceMonths} months after the contract ends`;
  const rules = [
    c.endsOn
      ? `telemetry: ${action} ${after}, on ${dueOn(c.endsOn, policy).toISOString().slice(0, 10)}`
      : `telemetry: ${action} ${after} (the contract is open-ended)`,
  ];
  if (kinds.includes('heat_meter')) {
    const final = c.endsOn
      ? billingKeepUntil(c.jurisdiction, new Date(c.endsOn), policy.fiscalYearEndMonth)
          .toISOString()
          .slice(0, 10)
      : null;
    const what = `billing readings (energy and volume register at the end of each ${policy.billingPeriodMonths}-month billing period)`;
    rules.push(
      c.jurisdiction === 'DK'
        ? `${what}: kept until the end of the fiscal year + 5 years (bogføringsloven)${final ? `; for the final period, until ${final}` : ''}`
        : `${what}: kept to the end of the seventh year after the calendar year in which the fiscal year ended (bokföringslagen)${final ? `; for the final period, until ${final}` : ''}`,
    );
  }
  return rules;
}

/** Every contract's record, optionally for one tenant. */
export async function processingRecords(ctx: RecordsContext, tenantId?: string): Promise<ProcessingRecord[]> {
  const tenants = (await ctx.registry.listTenants()).filter((t) => !tenantId || t.id === tenantId);
  const counts = await ctx.registry.sql.query<{
    tenantId: string;
    contractId: string;
    kind: DeviceKind;
    n: number;
  }>(
    `SELECT tenant_id AS "tenantId", contract_id AS "contractId", kind, count(*)::int AS n
     FROM devices GROUP BY tenant_id, contract_id, kind ORDER BY kind`,
  );
  const policies = createRetentionPolicies(ctx.registry.sql);
  const records: ProcessingRecord[] = [];
  for (const tenant of tenants) {
    const tenantPolicies = await policies.forTenant(tenant.id);
    // Special-category notes belong to the tenant's subjects, not to one contract: named in each of its records.
    const special = await ctx.registry.sql.query<{ category: string }>(
      'SELECT DISTINCT category FROM subject_special_category WHERE tenant_id = $1 ORDER BY category',
      [tenant.id],
    );
    for (const c of await ctx.registry.listContracts(tenant.id)) {
      const policy = tenantPolicies.get(c.id) ?? (await policies.get(tenant.id, c.id));
      const mine = counts.filter((r) => r.tenantId === tenant.id && r.contractId === c.id);
      const kinds = mine.map((r) => r.kind);
      const processor = c.role === 'processor';
      records.push({
        variant: c.role,
        article: processor ? 'art. 30(2)' : 'art. 30(1)',
        tenant,
        contract: c.id,
        controller: processor ? tenant.name : ctx.operatorName,
        ...(processor ? { processor: ctx.operatorName } : {}),
        purposes: [c.purpose],
        legalBasis: c.legalBasis,
        jurisdiction: c.jurisdiction,
        period: { startsOn: c.startsOn, endsOn: c.endsOn },
        categoriesOfSubjects: kinds.map((k) => SUBJECTS[k]),
        categoriesOfData: [
          ...kinds.map((k) => `${DATA[k]} (${Object.keys(STORED_FIELDS[k]).join(', ')})`),
          'pseudonymised device identifiers (ICCID, IMSI, IMEI, MSISDN, meter number): keyed pseudonyms only',
          ...(c.gpsGridMeters !== null
            ? [`GPS position snapped to the centre of its ${c.gpsGridMeters} m grid cell`]
            : []),
          ...special.map(
            (r) =>
              `special category (art. 9): ${r.category}, only with explicit consent (art. 9(2)(a)), encrypted at rest`,
          ),
        ],
        devices: Object.fromEntries(mine.map((r) => [r.kind, r.n])),
        recipients: processor
          ? [`${tenant.name} (the controller), through its own dashboards and exports`, ...ctx.subProcessors]
          : [`${tenant.name}, through its own dashboards and exports`, ...ctx.subProcessors],
        transfersToThirdCountries: 'none: all processing and storage in the EU/EEA',
        retention: retentionRules(c, policy, kinds),
        securityMeasures: SECURITY_MEASURES,
      });
    }
  }
  return records;
}

/** The records as plain text, one block per record, for `skjold records`. */
export function renderRecords(records: readonly ProcessingRecord[]): string {
  if (records.length === 0) return 'No contracts registered: no processing to record.\n';
  const list = (items: readonly string[]) => items.map((i) => `    - ${i}`).join('\n');
  return records
    .map((r) =>
      [
        `Record of processing, ${r.variant} (${r.article}) — tenant ${r.tenant.id}, contract ${r.contract}`,
        `  Controller: ${r.controller}`,
        ...(r.processor ? [`  Processor: ${r.processor}`] : []),
        `  Purposes:\n${list(r.purposes)}`,
        `  Legal basis: ${r.legalBasis} (${r.jurisdiction})`,
        `  Period: ${r.period.startsOn} – ${r.period.endsOn ?? 'open-ended'}`,
        `  Categories of data subjects:\n${list(r.categoriesOfSubjects.length ? r.categoriesOfSubjects : ['none yet (no devices)'])}`,
        `  Categories of personal data:\n${list(r.categoriesOfData)}`,
        `  Recipients:\n${list(r.recipients)}`,
        `  Transfers to third countries: ${r.transfersToThirdCountries}`,
        `  Retention:\n${list(r.retention)}`,
        `  Security measures (art. 32):\n${list(r.securityMeasures)}`,
      ].join('\n'),
    )
    .join('\n\n')
    .concat('\n');
}
