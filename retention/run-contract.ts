/**
 * One due contract's retention steps, in the order that never loses what must
 * be kept: billing reduction, aggregation, dropping the raw series device by
 * device, then expiry of billing readings. Each finished step is recorded
 * (progress.ts) so an interrupted run resumes; each step is idempotent.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import type { Contract } from '../registry/registry.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { anonymise, PUBLISHED_STATISTICS } from './anonymise.ts';
import { BILLING_MEASUREMENT, deviceCondition, keepBillingReadings } from './billing.ts';
import type { UniformSource } from './noise.ts';
import type { RetentionPolicy } from './policy.ts';
import type { RetentionProgress } from './progress.ts';
import {
  addCount,
  type ContractDevice,
  type ContractRetention,
  dayAfter,
  isoDay,
  type KindCounts,
} from './report.ts';
import { contractCondition, dropSeries } from './telemetry.ts';

export interface ContractRun {
  store: TelemetryStore;
  audit: AuditLog;
  tenantId: string;
  runId: string;
  contract: Contract;
  policy: RetentionPolicy;
  /** Every device of the contract. */
  devices: ContractDevice[];
  /** Those no legal hold covers. */
  free: ContractDevice[];
  heldPseudonyms: Set<string>;
  /** The receipt entry the run fills in. */
  entry: ContractRetention;
  progress: RetentionProgress;
  now: Date;
  /** Randomness for the policy's noise; node:crypto unless a test injects a seeded source. */
  uniform?: UniformSource;
}

export async function runContract(r: ContractRun): Promise<void> {
  const {
    store,
    audit,
    tenantId,
    runId,
    contract,
    policy,
    devices,
    free,
    heldPseudonyms,
    entry,
    progress,
    now,
    uniform,
  } = r;
  const done = await progress.done(contract.id);
  let skipped = 0;
  const isDone = (deviceId: string, step: string) => {
    const yes = done.has(`${deviceId}/${step}`);
    if (yes) skipped++;
    return yes;
  };
  const base = { runId, contract: contract.id };

  // 1. Art. 17(3)(b): the bookkeeping duty outlives erasure. Reduce before anything is deleted.
  const meters = free.filter((d) => d.kind === 'heat_meter' && !isDone(d.deviceId, 'billing'));
  // When even the last period's bookkeeping duty is over, there is nothing left to keep.
  const lapsed = entry.billing.keepUntil !== null && entry.billing.keepUntil <= isoDay(now);
  if (meters.length > 0 && contract.endsOn && !lapsed) {
    const { readings } = await keepBillingReadings(
      store,
      tenantId,
      meters.map((d) => ({ devicePseudonyms: d.pseudonyms, contractId: contract.id })),
      { from: new Date(`${contract.startsOn}T00:00:00Z`), to: dayAfter(contract.endsOn) },
      policy.billingPeriodMonths,
    );
    await progress.recordMany(
      contract.id,
      meters.map((d) => d.deviceId),
      'billing',
      runId,
    );
    entry.billing.readingsKept = readings;
    await audit.append({
      actor: 'retention',
      action: 'retention.billing_reduce',
      tenantId,
      target: contract.id,
      detail: {
        ...base,
        devices: meters.flatMap((d) => d.pseudonyms),
        readings,
        keepUntil: entry.billing.keepUntil,
      },
    });
  }

  // 2. Recital 26: aggregates first, written for the whole contract before any raw series goes.
  if (policy.telemetryAction === 'anonymise') {
    entry.anonymised = {};
    for (const kind of new Set(devices.map((d) => d.kind))) {
      const step = `anonymise:${kind}`;
      if (isDone('', step)) continue;
      const owners = new Map<string, { deviceId: string; area: string | null }>();
      for (const d of devices.filter((x) => x.kind === kind)) {
        for (const p of d.pseudonyms) owners.set(p, { deviceId: d.deviceId, area: d.area });
      }
      const result = await anonymise(store, tenantId, contract.id, kind, owners, policy, uniform);
      await progress.record(contract.id, '', step, runId, { ...result });
      entry.anonymised[kind] = result;
      await audit.append({
        actor: 'retention',
        action: 'retention.anonymise',
        tenantId,
        target: contract.id,
        detail: {
          ...base,
          kind,
          k: policy.anonymiseK,
          interval: policy.anonymiseInterval,
          group: policy.anonymiseGroup,
          published: PUBLISHED_STATISTICS,
          ...result,
        },
      });
    }
  }

  // 3. The raw series, device by device, from data and index alike.
  const dropped: ContractDevice[] = [];
  const auditDrops = async (interrupted: boolean) => {
    if (dropped.length === 0) return;
    const byKind: KindCounts = {};
    for (const d of dropped) addCount(byKind, d.kind, d.counts);
    await audit.append({
      actor: 'retention',
      action: policy.telemetryAction === 'anonymise' ? 'retention.anonymise_drop' : 'retention.delete',
      tenantId,
      target: contract.id,
      detail: {
        ...base,
        byKind,
        devices: dropped.flatMap((d) => d.pseudonyms),
        ...(interrupted ? { interrupted } : {}),
      },
    });
  };
  try {
    for (const d of free) {
      if (isDone(d.deviceId, 'drop')) continue;
      if (d.pseudonyms.length > 0) await dropSeries(store, tenantId, d.kind, deviceCondition(d.pseudonyms));
      await progress.record(contract.id, d.deviceId, 'drop', runId, { ...d.counts });
      dropped.push(d);
    }
  } catch (err) {
    await auditDrops(true).catch(() => undefined);
    throw err;
  }
  await auditDrops(false);
  if (heldPseudonyms.size === 0) {
    // Series of the contract no registered device claims any more (a device removed from the registry).
    for (const kind of new Set(devices.map((d) => d.kind))) {
      if (isDone('', `sweep:${kind}`)) continue;
      await dropSeries(store, tenantId, kind, contractCondition(contract.id));
      await progress.record(contract.id, '', `sweep:${kind}`, runId, {});
    }
  }

  // 4. Billing readings past their own keep-until.
  const expired = entry.billing.expired;
  if (expired.periods.length > 0) {
    const periods = `period =~ /^(${expired.periods.join('|')})$/`;
    const holdsAny = heldPseudonyms.size > 0;
    const unheld = free.filter((d) => d.kind === 'heat_meter').flatMap((d) => d.pseudonyms);
    if (!holdsAny || unheld.length > 0) {
      await dropSeries(
        store,
        tenantId,
        BILLING_MEASUREMENT,
        `${contractCondition(contract.id)} AND ${periods}${holdsAny ? ` AND ${deviceCondition(unheld)}` : ''}`,
      );
    }
    await audit.append({
      actor: 'retention',
      action: 'retention.billing_expire',
      tenantId,
      target: contract.id,
      detail: { ...base, ...expired },
    });
  }
  entry.skippedSteps = skipped;
}
