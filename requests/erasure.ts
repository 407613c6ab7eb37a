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
import { timeCondition, windowOf, windowsByPseudonym } from './periods.ts';
import { type Actor, createRights, type Rights, type RightsDeps } from './rights.ts';
import type { DeviceSeries } from './subjects.ts';

export interface KeptItem {
  what: string;
  /** Device ids of the tenant's devices concerned. */
  devices: string[];
  why: string;
  /** The GDPR provision that allows keeping it. */
  article: string;
  holds?: Array<Pick<LegalHold, 'id' | 'reason' | 'until'>>;
  /** Other occupants' periods of the devices (no subject named), and the points left on them. */
  periods?: ErasedPeriod[];
  points?: number;
  /** Bookkeeping: how many billing readings, under which rule, until when (the latest). */
  billing?: { readings: number; rule: string; keepUntil: string };
}

/** One occupancy period of a device: [from, to), ISO instants, null open-ended. */
export interface ErasedPeriod {
  device: string;
  from: string | null;
  to: string | null;
  /** Telemetry points inside it (for the subject's own: deleted). */
  points?: number;
}

export interface ErasureReceipt {
  request: string;
  /** The subject's keyed pseudonym: the receipt, like the audit log, never names the ref. */
  subject: string;
  erasedAt: string;
  deleted: {
    devices: string[];
    /** The subject's occupancy periods whose telemetry was deleted, with the points each held. */
    periods: ErasedPeriod[];
    /** Telemetry inside those periods in InfluxDB, counted before and after (billing readings not included). */
    before: { series: number; points: number };
    after: { series: number; points: number };
    /** Devices whose series were dropped: no other occupant and nothing of theirs left. */
    series: string[];
    /**
     * InfluxDB's index for the dropped devices' pseudonyms (those not kept in
     * billing readings): `clean`, `purged` (influxd was restarted to rebuild
     * it) or `pending` (an external InfluxDB still lists them and needs a restart).
     */
    index: IndexState;
    /** `device` tag values of the dropped devices still listed by SHOW TAG VALUES, outside kept billing readings. */
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
 * Art. 17: erases one subject — the telemetry of its occupancy periods of its
 * devices (a time-bounded DELETE per period), its links, and its
 * special-category notes and the subject itself — except what must be kept:
 * whatever a legal hold covers (art. 17(3)(e)), for heat meters the billing
 * readings bookkeeping law requires (art. 17(3)(b)), and everything that is
 * not the subject's: other occupants' periods of the same devices. A device's
 * series is dropped (and its pseudonyms leave InfluxDB's index) only when no
 * other subject occupies it and nothing is left in it. The receipt names what
 * was deleted and what was kept, and carries the audit entry that proves it.
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
  // A reading accepted before the erasure but still in the spool or queue would bring a deleted point back.
  await drainedWithin(deps.transport, DRAIN_DEADLINE_MS);
  const pages = rights.pages(tenantId);
  const notBilling = new Set([BILLING_MEASUREMENT]);
  const inPeriods = {
    deviceIn: pseudonyms,
    windows: windowsByPseudonym(erasable),
    measurementsNot: notBilling,
  };
  const before = await pages.count(inPeriods);
  const periods: ErasedPeriod[] = [];
  for (const d of erasable) {
    for (const p of d.periods) {
      const windows = new Map(d.pseudonyms.map((x) => [x, [windowOf(p)]]));
      const { points } = await pages.count({ deviceIn: d.pseudonyms, windows, measurementsNot: notBilling });
      periods.push({ device: d.device.id, from: p.from, to: p.to, points });
    }
  }

  // Art. 17(3)(b): the billing readings of heat meters outlive the raw series.
  const meters = erasable.filter((d) => d.device.kind === 'heat_meter' && d.pseudonyms.length > 0);
  for (const meter of meters) {
    const contract = contracts.get(meter.device.contractId);
    if (!contract) continue;
    const contractStart = new Date(`${contract.startsOn}T00:00:00Z`);
    let readings = 0;
    for (const p of meter.periods) {
      const from =
        p.from !== null && Date.parse(p.from) > contractStart.getTime() ? new Date(p.from) : contractStart;
      const to = p.to !== null && Date.parse(p.to) < now.getTime() ? new Date(p.to) : now;
      if (from >= to) continue;
      const kept = await keepBillingReadings(
        deps.store,
        tenantId,
        [{ devicePseudonyms: meter.pseudonyms, contractId: contract.id }],
        { from, to },
      );
      readings += kept.readings;
    }
    if (readings === 0) continue;
    kept.push({
      what: `billing readings (${BILLING_MEASUREMENT}: the last energy and volume register of each billing period and at each move-out)`,
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

  const measurements = pseudonyms.length > 0 ? await pages.measurementsFor(inPeriods) : [];
  for (const m of measurements) {
    for (const d of erasable) {
      if (d.pseudonyms.length === 0) continue;
      for (const p of d.periods) {
        // InfluxDB 1.x deletes by tag and time: exactly the period's points, nobody else's.
        const time = timeCondition(windowOf(p));
        await deps.store.execute(
          tenantId,
          `DELETE FROM ${quoteIdentifier(m)} WHERE ${deviceCondition(d.pseudonyms)}${time ? ` AND ${time}` : ''}`,
        );
      }
    }
  }
  const after = await pages.count(inPeriods);

  // What is left on each device is not the subject's: other occupants' periods, or time nobody occupied it.
  const dropped: DeviceSeries[] = [];
  const othersOf = new Map<string, ErasedPeriod[]>();
  let leftOutside = 0;
  const sharedDevices: string[] = [];
  for (const d of erasable) {
    const others = (await deps.registry.devicePeriods(tenantId, d.device.id))
      .filter((p) => p.subjectRef !== ref)
      .map((p) => ({ device: d.device.id, from: p.from, to: p.to }));
    othersOf.set(d.device.id, others);
    const left = d.pseudonyms.length
      ? (await pages.count({ deviceIn: d.pseudonyms, measurementsNot: notBilling })).points
      : 0;
    if (others.length === 0 && left === 0) dropped.push(d);
    else {
      leftOutside += left;
      sharedDevices.push(d.device.id);
    }
  }
  const droppedPseudonyms = dropped.flatMap((d) => d.pseudonyms);
  if (droppedPseudonyms.length > 0) {
    for (const m of measurements) {
      await deps.store.execute(
        tenantId,
        `DROP SERIES FROM ${quoteIdentifier(m)} WHERE ${deviceCondition(droppedPseudonyms)}`,
      );
    }
  }
  if (sharedDevices.length > 0) {
    kept.push({
      what: 'telemetry of the same devices outside the subject’s occupancy periods, and their series',
      devices: sharedDevices,
      why: 'not the subject’s data: other occupants’ periods (listed, no subject named) or time no subject occupied the device',
      article: 'art. 17(1): the right reaches personal data concerning the subject only',
      periods: sharedDevices.flatMap((id) => othersOf.get(id) ?? []),
      points: leftOutside,
    });
  }
  // InfluxDB 1.6 can keep listing dropped tag values until its index is rebuilt.
  const inBilling = new Set(await tagValues(rights, tenantId, BILLING_MEASUREMENT));
  const index = await deps.indexPurge.ensureGone(
    tenantId,
    droppedPseudonyms.filter((p) => !inBilling.has(p)),
  );
  const indexAfter = await tagValuesLeft(rights, tenantId, droppedPseudonyms);

  const erasedIds = erasable.map((d) => d.device.id);
  // The identifiers the tenant gave name the device for its other occupants' exports too.
  const unshared = erasable
    .filter((d) => (othersOf.get(d.device.id) ?? []).length === 0)
    .map((d) => d.device.id);
  const registry = await sql.transaction(async (tx) => {
    const sealed = await tx.query(
      'DELETE FROM sealed_identifiers WHERE tenant_id = $1 AND device_id = ANY($2::text[]) RETURNING device_id',
      [tenantId, unshared],
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

  if (unshared.length < erasedIds.length) {
    kept.push({
      what: 'the identifiers the tenant gave for devices other subjects occupy',
      devices: erasedIds.filter((id) => !unshared.includes(id)),
      why: 'they name the device in its other occupants’ exports; no link to the subject is left',
      article: 'art. 17(1): the right reaches personal data concerning the subject only',
    });
  }
  const series = dropped.map((d) => d.device.id);
  const deleted = { devices: erasedIds, periods, before, after, series, index, indexAfter, registry };
  const { audit } = await rights.record(actor, tenantId, ref, 'subject.erase', request.id, {
    deleted: {
      devices: erasedIds.length,
      periods: periods.length,
      series: series.length,
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
      periods: k.periods?.length,
      points: k.points,
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
