/**
 * Billing readings: what bookkeeping law makes us keep after telemetry is
 * deleted (GDPR art. 17(3)(b)). For a heat meter that is the energy and volume
 * register at the end of each billing period, and nothing else.
 */
import type { Jurisdiction } from '../registry/registry.ts';
import { quoteString } from '../store/influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';

export const BILLING_MEASUREMENT = 'billing_reading';
/** The registers a billing reading keeps. */
export const BILLING_FIELDS = ['energy_kwh', 'volume_m3'] as const;

// Devices per query: keeps a regex over pseudonyms a few kilobytes long.
const DEVICES_PER_QUERY = 200;

/** The end (exclusive) of the fiscal year that contains `at`; fiscal years end with `fiscalYearEndMonth` (1–12). */
export function fiscalYearEnd(at: Date, fiscalYearEndMonth = 12): Date {
  const year = at.getUTCFullYear();
  // The first instant after the fiscal year's last month in this calendar year.
  const endThisYear = new Date(Date.UTC(year, fiscalYearEndMonth, 1));
  return at < endThisYear ? endThisYear : new Date(Date.UTC(year + 1, fiscalYearEndMonth, 1));
}

/**
 * The instant (exclusive) the bookkeeping duty for a reading ends.
 * Denmark (bogføringsloven § 10): five years from the end of the fiscal year
 * the reading belongs to. Sweden (bokföringslagen 7 kap. 2 §): until the end of
 * the seventh year after the calendar year in which that fiscal year ended.
 */
export function billingKeepUntil(jurisdiction: Jurisdiction, periodEnd: Date, fiscalYearEndMonth = 12): Date {
  // A period ending exactly on a fiscal-year boundary belongs to the year before it.
  const fyEnd = fiscalYearEnd(new Date(periodEnd.getTime() - 1), fiscalYearEndMonth);
  if (jurisdiction === 'DK') {
    return new Date(Date.UTC(fyEnd.getUTCFullYear() + 5, fyEnd.getUTCMonth(), 1));
  }
  // The fiscal year ended on the last day before fyEnd; its calendar year, plus seven, to the end.
  const endedIn = new Date(fyEnd.getTime() - 1).getUTCFullYear();
  return new Date(Date.UTC(endedIn + 8, 0, 1));
}

export interface BillingPeriod {
  /** 'YYYY-MM' of the period's first month. */
  label: string;
  start: Date;
  /** Exclusive. */
  end: Date;
}

/**
 * Billing periods of `periodMonths` calendar months (aligned to January)
 * that overlap [from, to), clipped to it: the last period ends at `to` when a
 * contract ends mid-period.
 */
export function billingPeriods(range: { from: Date; to: Date }, periodMonths = 1): BillingPeriod[] {
  if (!(periodMonths >= 1 && periodMonths <= 12 && 12 % periodMonths === 0)) {
    throw new RangeError('billing period must be 1, 2, 3, 4, 6 or 12 months');
  }
  const periods: BillingPeriod[] = [];
  const first = range.from;
  let year = first.getUTCFullYear();
  let month = Math.floor(first.getUTCMonth() / periodMonths) * periodMonths;
  for (;;) {
    const start = new Date(Date.UTC(year, month, 1));
    if (start >= range.to) break;
    const end = new Date(Date.UTC(year, month + periodMonths, 1));
    periods.push({
      label: `${year}-${String(month + 1).padStart(2, '0')}`,
      start: start < range.from ? range.from : start,
      end: end > range.to ? range.to : end,
    });
    month += periodMonths;
    if (month >= 12) {
      year++;
      month -= 12;
    }
  }
  return periods;
}

const regexAlternation = (values: readonly string[]): string =>
  // Pseudonyms are `v<n>.` + base32: nothing a regex treats specially but the dot.
  `/^(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$/`;

const ns = (d: Date): string => `${BigInt(d.getTime()) * 1_000_000n}`;

type Owners = ReadonlyMap<string, { device: number; contractId: string }>;
interface Latest {
  pseudonym: string;
  time: number;
  fields: Record<string, number>;
}

/** Per device (all its pseudonyms) among `chunk`: the latest energy register in [start, end) and the volume beside it. */
async function latestRegisters(
  store: TelemetryStore,
  tenantId: string,
  owners: Owners,
  chunk: readonly string[],
  range: { start: Date; end: Date },
): Promise<Latest[]> {
  const where = `device =~ ${regexAlternation(chunk)} AND time >= ${ns(range.start)} AND time < ${ns(range.end)}`;
  const results = await store.query(
    tenantId,
    BILLING_FIELDS.map((f) => `SELECT last(${f}) AS v FROM heat_meter WHERE ${where} GROUP BY device`).join(
      '; ',
    ),
  );
  const latest = new Map<number, Latest>();
  BILLING_FIELDS.forEach((field, statement) => {
    for (const series of results[statement]?.series ?? []) {
      const pseudonym = series.tags?.device;
      const row = series.values[0];
      const owner = pseudonym === undefined ? undefined : owners.get(pseudonym);
      if (!owner || !pseudonym || !row || typeof row[0] !== 'number' || typeof row[1] !== 'number') continue;
      const current = latest.get(owner.device);
      if (field === 'energy_kwh') {
        if (!current || row[0] > current.time) {
          latest.set(owner.device, { pseudonym, time: row[0], fields: { energy_kwh: row[1] } });
        }
      } else if (current?.pseudonym === pseudonym) {
        // The volume register of the same series the energy reading came from.
        current.fields.volume_m3 = row[1];
      }
    }
  });
  return [...latest.values()];
}

function ownersOf(devices: { devicePseudonyms: string[]; contractId: string }[]): Owners {
  const owners = new Map<string, { device: number; contractId: string }>();
  devices.forEach((d, i) => {
    for (const p of d.devicePseudonyms) owners.set(p, { device: i, contractId: d.contractId });
  });
  return owners;
}

const billingPoint = (r: Latest, owners: Owners, period: string) => ({
  measurement: BILLING_MEASUREMENT,
  tags: { device: r.pseudonym, contract: owners.get(r.pseudonym)?.contractId ?? '', period },
  fields: r.fields,
  timestampMs: r.time,
});

/**
 * Writes, for each heat meter, the last energy and volume register of every
 * billing period in `range` as a `billing_reading` point (tags device,
 * contract, period). Re-running writes the same points again: a point's
 * identity is its measurement, tags and the reading's own timestamp.
 */
export async function keepBillingReadings(
  store: TelemetryStore,
  tenantId: string,
  devices: { devicePseudonyms: string[]; contractId: string }[],
  range: { from: Date; to: Date },
  periodMonths = 1,
): Promise<{ readings: number }> {
  const owners = ownersOf(devices);
  const pseudonyms = [...owners.keys()];
  let readings = 0;
  for (const period of billingPeriods(range, periodMonths)) {
    for (let i = 0; i < pseudonyms.length; i += DEVICES_PER_QUERY) {
      const chunk = pseudonyms.slice(i, i + DEVICES_PER_QUERY);
      const latest = await latestRegisters(store, tenantId, owners, chunk, period);
      const points = latest.map((r) => billingPoint(r, owners, period.label));
      if (points.length > 0) await store.write(tenantId, points);
      readings += points.length;
    }
  }
  return { readings };
}

/** The `period` tag of the reading a move-out records: `move-out:YYYY-MM-DD`. */
export const moveOutLabel = (at: Date): string => `move-out:${at.toISOString().slice(0, 10)}`;

/**
 * A move-out ends one occupant's billing period mid-month: the meter's last
 * energy and volume register before the move (since the occupant moved in,
 * when that is known) is kept as a `billing_reading`, so the leaving and the
 * next occupant's bills can both be made up, and kept for the bookkeeping
 * period after either is erased (art. 17(3)(b)).
 */
export async function keepMoveOutReading(
  store: TelemetryStore,
  tenantId: string,
  device: { devicePseudonyms: string[]; contractId: string },
  range: { from: Date | null; at: Date },
): Promise<{ time: string; energy_kwh?: number; volume_m3?: number } | null> {
  const owners = ownersOf([device]);
  const [latest] = await latestRegisters(store, tenantId, owners, device.devicePseudonyms, {
    start: range.from ?? new Date(0),
    end: range.at,
  });
  if (!latest) return null;
  await store.write(tenantId, [billingPoint(latest, owners, moveOutLabel(range.at))]);
  return { time: new Date(latest.time).toISOString(), ...latest.fields };
}

/** InfluxQL condition selecting a set of device pseudonyms (for DROP SERIES / DELETE / SELECT). */
export function deviceCondition(pseudonyms: readonly string[]): string {
  return pseudonyms.length === 1
    ? `device = ${quoteString(pseudonyms[0] ?? '')}`
    : `device =~ ${regexAlternation(pseudonyms)}`;
}
