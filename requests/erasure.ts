import {
  BILLING_MEASUREMENT,
  billingKeepUntil,
  deviceCondition,
  keepBillingReadings,
} from '../retention/billing.ts';
import type { LegalHold } from '../retention/holds.ts';
import type { IndexState } from '../store/index-purge.ts';
import { quoteIdentifier } from '../store/influxql.ts';
import { drainedWithin } from '../transport/transport.ts';
import { type Actor, createRights, type Rights, type RightsDeps } from './rights.ts';

export interface KeptItem {
  what: string;
  /** Device ids of the tenant's devices concerned. */
  devices: string[];
  why: string;
  /** The GDPR provision that allows keeping it. */
  article: string;
  holds?: Array<Pick<LegalHold, 'id' | 'reason' | 'until'>>;
  /** Bookkeeping: how many billing readings, under which rule, until when (the latest). */
  billing?: { readings: number; rule: string; keepUntil: string };
}

export interface ErasureReceipt {
  request: string;
  /** The subject's keyed pseudonym: the receipt, like the audit log, never names the ref. */
  subject: string;
  erasedAt: string;
  deleted: {
    devices: string[];
    /** Telemetry of the erased devices in InfluxDB, counted before and after (billing readings not included). */
    before: { series: number; points: number };
    after: { series: number; points: number };
    /**
     * InfluxDB's index for the erased pseudonyms (those not kept in billing
     * readings): `clean`, `purged` (influxd was restarted to rebuild it) or
     * `pending` (an external InfluxDB still lists them and needs a restart).
     */
    index: IndexState;
    /** `device` tag values of the erased devices still listed by SHOW TAG VALUES, outside kept billing readings. */
    indexAfter: string[];
    registry: {
      links: number;
      sealedIdentifiers: number;
      specialCategory: number;
      subject: boolean;
    };
  };
  kept: KeptItem[];
  audit: { seq: number; hash: string };
}

/** How long an erasure waits for readings in transit before it gives up (and deletes nothing). */
const DRAIN_DEADLINE_MS = 60_000;

const BILLING_RULE: Record<'DK' | 'SE', string> = {
  DK: 'bogføringsloven § 10: the current fiscal year + 5 years',
  SE: 'bokföringslagen 7 kap. 2 §: 7 years after the end of the calendar year of the fiscal year',
};

/**
 * Art. 17: erases one subject — its devices' telemetry (DROP SERIES, so the
 * pseudonyms leave InfluxDB's index too), its links, sealed identifiers and
 * special-category notes, and the subject itself — except what must be kept:
 * whatever a legal hold covers (art. 17(3)(e)) and, for heat meters, the
 * billing readings bookkeeping law requires (art. 17(3)(b)). The receipt
 * names both and carries the audit entry that proves it.
 */
export async function eraseWith(
  rights: Rights,
  actor: Actor,
  tenantId: string,
  ref: string,
  options: { requestId?: string } = {},
): Promise<ErasureReceipt> {
  const { deps, subjects } = rights;
  const sql = deps.registry.sql;
  const request = await rights.requestFor(tenantId, ref, ['erasure'], options.requestId);
  const now = deps.clock();
  const devices = await subjects.devicesOf(tenantId, ref);
  const contracts = await rights.contractsOf(tenantId);
  const held = await deps.holds.held(tenantId, now);
  // A subject hold names the subject by its pseudonym under the key version of the day it was made.
  const subjectHolds = rights.sealer
    .subjectPseudonyms(tenantId, ref)
    .flatMap((p) => held.bySubject.get(p) ?? []);

  const kept: KeptItem[] = [];
  const heldDevices = devices.filter((d) => held.covers(d.device.id) || subjectHolds.length > 0);
  const holdsById = new Map<string, LegalHold>();
  for (const d of heldDevices)
    for (const h of [...held.holdsFor(d.device.id), ...subjectHolds]) holdsById.set(h.id, h);
  if (heldDevices.length > 0) {
    kept.push({
      what: 'telemetry and registry records of devices under a legal hold',
      devices: heldDevices.map((d) => d.device.id),
      why: 'a legal hold is in force',
      article: 'art. 17(3)(e): establishment, exercise or defence of legal claims',
      holds: [...holdsById.values()].map((h) => ({ id: h.id, reason: h.reason, until: h.until })),
    });
  }
  const erasable = devices.filter((d) => !heldDevices.includes(d));
  const pseudonyms = erasable.flatMap((d) => d.pseudonyms);
  // A reading accepted before the erasure but still in the spool or queue would bring a dropped series back.
  await drainedWithin(deps.transport, DRAIN_DEADLINE_MS);
  const pages = rights.pages(tenantId);
  const telemetryOnly = { deviceIn: pseudonyms, measurementsNot: new Set([BILLING_MEASUREMENT]) };
  const before = await pages.count(telemetryOnly);

  // Art. 17(3)(b): the billing readings of heat meters outlive the raw series.
  const meters = erasable.filter((d) => d.device.kind === 'heat_meter' && d.pseudonyms.length > 0);
  for (const meter of meters) {
    const contract = contracts.get(meter.device.contractId);
    if (!contract) continue;
    const { readings } = await keepBillingReadings(
      deps.store,
      tenantId,
      [{ devicePseudonyms: meter.pseudonyms, contractId: contract.id }],
      { from: new Date(`${contract.startsOn}T00:00:00Z`), to: now },
    );
    if (readings === 0) continue;
    kept.push({
      what: `billing readings (${BILLING_MEASUREMENT}: the last energy and volume register of each billing period)`,
      devices: [meter.device.id],
      why: 'bookkeeping duty',
      article: 'art. 17(3)(b): compliance with a legal obligation',
      billing: {
        readings,
        rule: BILLING_RULE[contract.jurisdiction],
        keepUntil: billingKeepUntil(contract.jurisdiction, now).toISOString(),
      },
    });
  }

  if (pseudonyms.length > 0) {
    for (const m of await pages.measurementsFor(telemetryOnly)) {
      await deps.store.execute(
        tenantId,
        `DROP SERIES FROM ${quoteIdentifier(m)} WHERE ${deviceCondition(pseudonyms)}`,
      );
    }
  }
  const after = await pages.count(telemetryOnly);
  // InfluxDB 1.6 can keep listing dropped tag values until its index is rebuilt.
  const inBilling = new Set(await tagValues(rights, tenantId, BILLING_MEASUREMENT));
  const index = await deps.indexPurge.ensureGone(
    tenantId,
    pseudonyms.filter((p) => !inBilling.has(p)),
  );
  const indexAfter = await tagValuesLeft(rights, tenantId, pseudonyms);

  const erasedIds = erasable.map((d) => d.device.id);
  const registry = await sql.transaction(async (tx) => {
    const sealed = await tx.query(
      'DELETE FROM sealed_identifiers WHERE tenant_id = $1 AND device_id = ANY($2::text[]) RETURNING device_id',
      [tenantId, erasedIds],
    );
    const links = await tx.query(
      'DELETE FROM subject_devices WHERE tenant_id = $1 AND subject_ref = $2 AND device_id = ANY($3::text[]) RETURNING device_id',
      [tenantId, ref, erasedIds],
    );
    if (subjectHolds.length > 0)
      return { links: links.length, sealedIdentifiers: sealed.length, specialCategory: 0, subject: false };
    const notes = await tx.query(
      'DELETE FROM subject_special_category WHERE tenant_id = $1 AND subject_ref = $2 RETURNING id',
      [tenantId, ref],
    );
    // With no held device left, the subject goes too (restrictions and objections with it, by cascade).
    const gone =
      heldDevices.length === 0
        ? await tx.query('DELETE FROM subjects WHERE tenant_id = $1 AND ref = $2 RETURNING ref', [
            tenantId,
            ref,
          ])
        : [];
    return {
      links: links.length,
      sealedIdentifiers: sealed.length,
      specialCategory: notes.length,
      subject: gone.length > 0,
    };
  });
  // The subject's links and objections may be gone: ingest's view of them follows.
  await deps.objections?.refresh();
  if (heldDevices.length > 0 && subjectHolds.length === 0) {
    kept.push({
      what: 'the subject record and its links to held devices',
      devices: heldDevices.map((d) => d.device.id),
      why: 'the held devices must stay attributable while the hold lasts',
      article: 'art. 17(3)(e)',
    });
  }
  if (subjectHolds.length > 0) {
    kept.push({
      what: 'the subject record, its links and special-category notes',
      devices: heldDevices.map((d) => d.device.id),
      why: 'a legal hold on the subject is in force',
      article: 'art. 17(3)(e)',
      holds: subjectHolds.map((h) => ({ id: h.id, reason: h.reason, until: h.until })),
    });
  }

  const deleted = { devices: erasedIds, before, after, index, indexAfter, registry };
  const { audit } = await rights.record(actor, tenantId, ref, 'subject.erase', request.id, {
    deleted: {
      devices: erasedIds.length,
      before,
      after,
      index: index.state,
      indexAfter: indexAfter.length,
      registry,
    },
    kept: kept.map((k) => ({
      what: k.what,
      devices: k.devices.length,
      article: k.article,
      holds: k.holds?.map((h) => h.id),
      billing: k.billing,
    })),
  });
  return {
    request: request.id,
    subject: rights.sealer.subjectPseudonym(tenantId, ref),
    erasedAt: now.toISOString(),
    deleted,
    kept,
    audit,
  };
}

async function tagValues(rights: Rights, tenantId: string, measurement: string): Promise<string[]> {
  const results = await rights.deps.store.query(
    tenantId,
    `SHOW TAG VALUES FROM ${quoteIdentifier(measurement)} WITH KEY = "device"`,
  );
  return results.flatMap((r) => r.series ?? []).flatMap((s) => s.values.map((v) => String(v[1])));
}

/** `device` tag values among `pseudonyms` still in InfluxDB's index, outside the kept billing readings. */
async function tagValuesLeft(
  rights: Rights,
  tenantId: string,
  pseudonyms: readonly string[],
): Promise<string[]> {
  if (pseudonyms.length === 0) return [];
  const wanted = new Set(pseudonyms);
  const pages = rights.pages(tenantId);
  const left = new Set<string>();
  for (const m of await pages.measurements()) {
    if (m === BILLING_MEASUREMENT) continue;
    const results = await rights.deps.store.query(
      tenantId,
      `SHOW TAG VALUES FROM ${quoteIdentifier(m)} WITH KEY = "device"`,
    );
    for (const s of results.flatMap((r) => r.series ?? [])) {
      for (const v of s.values) if (typeof v[1] === 'string' && wanted.has(v[1])) left.add(v[1]);
    }
  }
  return [...left].sort();
}

/**
 * Erases one subject of a tenant, given a running Skjold's parts (the result
 * of `createSkjold()` or the API's deps): the entry point scripts and
 * benchmarks call. Recorded as done by `actor` (default: the operator).
 */
export function eraseSubject(
  deps: RightsDeps,
  tenantId: string,
  ref: string,
  options: { actor?: Actor; requestId?: string } = {},
): Promise<ErasureReceipt> {
  return eraseWith(createRights(deps), options.actor ?? 'operator', tenantId, ref, options);
}
