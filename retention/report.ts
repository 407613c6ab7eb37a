/**
 * What retention reports: plans and receipts, per contract, with counts and
 * the rule and holds behind each decision. No raw identifier appears in them:
 * devices are named by registry id and pseudonyms.
 */
import type { DeviceKind } from '../lib/device-kinds.ts';
import type { Contract } from '../registry/registry.ts';
import type { IndexState } from '../store/index-purge.ts';
import type { AnonymisationTerms, AnonymiseResult } from './anonymise.ts';
import type { LegalHold } from './holds.ts';
import type { LegacyAggregates } from './legacy-aggregates.ts';
import type { RetentionPolicy } from './policy.ts';
import type { SeriesCount } from './telemetry.ts';

export type KindCounts = Partial<Record<DeviceKind, SeriesCount & { devices: number }>>;

export interface HoldRef {
  id: string;
  scope: LegalHold['scope'];
  reason: string;
  until: string | null;
}

export interface HeldDevice {
  deviceId: string;
  kind: DeviceKind;
  pseudonyms: string[];
  holds: HoldRef[];
}

export interface ContractRetention {
  contractId: string;
  role: Contract['role'];
  jurisdiction: Contract['jurisdiction'];
  startsOn: string;
  endsOn: string | null;
  policy: RetentionPolicy;
  /** running: no end date; not_due: ended, grace not over; due: retention applies; held: a tenant hold stops it all. */
  status: 'running' | 'not_due' | 'due' | 'held';
  /** YYYY-MM-DD from which telemetry is deleted or anonymised. */
  dueOn: string | null;
  /** The rule behind the decision, in words. */
  rule: string;
  telemetry: {
    action: 'delete' | 'anonymise' | 'keep';
    /** What is (plan) or was (receipt) deleted or anonymised; for a contract not due, what is kept. */
    affected: KindCounts;
    /** What a legal hold keeps. */
    held: KindCounts;
  };
  /** When the policy anonymises: k, the groups, what a group publishes and the noise. */
  anonymisation?: AnonymisationTerms;
  /** Per kind: aggregate groups written and groups suppressed (fewer than k devices). Receipts only. */
  anonymised?: Partial<Record<DeviceKind, AnonymiseResult>>;
  billing: {
    /** YYYY-MM-DD (exclusive) the last billing period's readings are kept until. */
    keepUntil: string | null;
    /** Why that date. */
    rule: string;
    /** Heat meters whose billing readings were (receipt) or will be (plan) written before deletion. */
    devicesReduced: number;
    readingsKept: number;
    /** Billing readings past their keep-until: deleted (receipt) or to delete (plan). */
    expired: SeriesCount & { periods: string[] };
  };
  held: HeldDevice[];
  /** Tenant-wide holds that stop everything of this contract. */
  tenantHolds: HoldRef[];
  notices: string[];
  /** Steps an earlier, interrupted run had finished and this run skipped. Receipts only. */
  skippedSteps?: number;
}

export interface RetentionReport {
  kind: 'plan' | 'receipt';
  runId?: string;
  tenantId: string;
  at: string;
  contracts: ContractRetention[];
  /**
   * Receipts: whether InfluxDB's index still lists a pseudonym this run removed
   * entirely (store/index-purge.ts). Pseudonyms that keep billing readings are
   * listed by right and not counted.
   */
  index?: IndexState;
  /**
   * Aggregates an older Skjold published with minima, maxima and groups under
   * five devices: to rewrite (plan) or rewritten (receipt).
   */
  legacyAggregates?: LegacyAggregates;
}

export const BOOKKEEPING = {
  DK: 'bogføringsloven § 10: five years from the end of the fiscal year',
  SE: 'bokföringslagen 7 kap. 2 §: to the end of the seventh year after the calendar year the fiscal year ended in',
} as const;

export const isoDay = (d: Date): string => d.toISOString().slice(0, 10);
export const holdRef = (h: LegalHold): HoldRef => ({
  id: h.id,
  scope: h.scope,
  reason: h.reason,
  until: h.until,
});
export const dayAfter = (day: string): Date => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000);

export function addCount(into: KindCounts, kind: DeviceKind, c: SeriesCount): void {
  const k = into[kind] ?? { devices: 0, series: 0, points: 0 };
  k.devices += 1;
  k.series += c.series;
  k.points += c.points;
  into[kind] = k;
}

export interface ContractDevice {
  deviceId: string;
  kind: DeviceKind;
  area: string | null;
  /** The `device` tag values: login pseudonyms of every key version. */
  pseudonyms: string[];
  counts: SeriesCount;
}

/** Counts of a receipt, for the audit log: no identifiers. */
export function summarise(r: RetentionReport): Record<string, unknown> {
  const total = (pick: (c: ContractRetention) => KindCounts) =>
    r.contracts.reduce(
      (acc, c) => {
        for (const v of Object.values(pick(c))) {
          acc.series += v.series;
          acc.points += v.points;
        }
        return acc;
      },
      { series: 0, points: 0 },
    );
  const due = r.contracts.filter((c) => c.status === 'due');
  return {
    contracts: r.contracts.length,
    due: due.map((c) => c.contractId),
    removed: total((c) => (c.status === 'due' ? c.telemetry.affected : {})),
    held: total((c) => c.telemetry.held),
    holds: [
      ...new Set(
        r.contracts.flatMap((c) => [...c.tenantHolds, ...c.held.flatMap((h) => h.holds)].map((h) => h.id)),
      ),
    ],
    billingReadingsKept: due.reduce((n, c) => n + c.billing.readingsKept, 0),
    billingExpired: due.reduce((n, c) => n + c.billing.expired.points, 0),
    skippedSteps: due.reduce((n, c) => n + (c.skippedSteps ?? 0), 0),
  };
}
