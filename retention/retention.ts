/**
 * Contract-end retention (docs/retention.md). For every contract that ended
 * more than its grace period ago: billing readings are reduced to the values
 * bookkeeping needs, telemetry is aggregated (when the policy anonymises) and
 * then its raw series are dropped, device by device; billing readings past
 * their own keep-until go too. Legal holds stop what they cover. `plan` says
 * all of it without changing anything; `run` does it and returns a receipt.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../lib/clock.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Contract, Registry } from '../registry/registry.ts';
import type { IndexPurge } from '../store/index-purge.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { drainedWithin, type Transport } from '../transport/transport.ts';
import { anonymisationTerms } from './anonymise.ts';
import { BILLING_MEASUREMENT, billingKeepUntil } from './billing.ts';
import type { LegalHolds } from './holds.ts';
import { legacyAggregates } from './legacy-aggregates.ts';
import type { UniformSource } from './noise.ts';
import { addMonths, createRetentionPolicies, dueOn, type RetentionPolicy } from './policy.ts';
import { createRetentionProgress } from './progress.ts';
import {
  addCount,
  BOOKKEEPING,
  type ContractDevice,
  type ContractRetention,
  dayAfter,
  holdRef,
  isoDay,
  type RetentionReport,
  summarise,
} from './report.ts';
import { runContract } from './run-contract.ts';
import {
  COUNT_FIELD,
  checked,
  contractCondition,
  countByPseudonym,
  type SeriesCount,
  sumCounts,
} from './telemetry.ts';

export type { ContractRetention, HeldDevice, HoldRef, KindCounts, RetentionReport } from './report.ts';

export interface RetentionDeps {
  registry: Registry;
  store: TelemetryStore;
  holds: LegalHolds;
  audit: AuditLog;
  clock: Clock;
  logger?: Logger;
  /** Checks (and, for a managed influxd, purges) dropped pseudonyms InfluxDB 1.6 still lists. */
  indexPurge?: IndexPurge;
  /** Points still on their way to the store; a run waits for them before it drops series. */
  transport?: Pick<Transport, 'drained'>;
  /** Randomness for anonymisation noise; node:crypto's unless a test injects a seeded source. */
  uniform?: UniformSource;
}

// One run at a time per registry: the API and the schedule share it.
const running = new WeakMap<object, Promise<unknown>>();

export function createRetention(deps: RetentionDeps) {
  const { registry, store, holds, audit, clock } = deps;
  const policies = createRetentionPolicies(registry.sql);

  async function devicesOf(tenantId: string): Promise<Map<string, ContractDevice[]>> {
    const rows = await registry.sql.query<{
      deviceId: string;
      contractId: string;
      kind: DeviceKind;
      area: string | null;
      pseudonym: string | null;
    }>(
      `SELECT d.id AS "deviceId", d.contract_id AS "contractId", d.kind, d.area, p.pseudonym
       FROM devices d LEFT JOIN device_pseudonyms p ON p.device_id = d.id AND p.id_type = d.login_type
       WHERE d.tenant_id = $1 ORDER BY d.id, p.key_version`,
      [tenantId],
    );
    const byContract = new Map<string, ContractDevice[]>();
    const byId = new Map<string, ContractDevice>();
    for (const r of rows) {
      let d = byId.get(r.deviceId);
      if (!d) {
        d = {
          deviceId: r.deviceId,
          kind: r.kind,
          area: r.area,
          pseudonyms: [],
          counts: { series: 0, points: 0 },
        };
        byId.set(r.deviceId, d);
        const list = byContract.get(r.contractId);
        if (list) list.push(d);
        else byContract.set(r.contractId, [d]);
      }
      if (r.pseudonym) d.pseudonyms.push(r.pseudonym);
    }
    return byContract;
  }

  /** Fills in each device's series and points, counted in InfluxDB. */
  async function count(tenantId: string, contractId: string, devices: ContractDevice[]): Promise<void> {
    for (const kind of new Set(devices.map((d) => d.kind))) {
      const counts = await countByPseudonym(
        store,
        tenantId,
        kind,
        COUNT_FIELD[kind],
        contractCondition(contractId),
      );
      for (const d of devices.filter((x) => x.kind === kind)) {
        d.counts = sumCounts(d.pseudonyms.map((p) => counts.get(p) ?? { series: 0, points: 0 }));
      }
    }
  }

  /** Billing readings of the contract whose keep-until has passed, per period, minus held devices. */
  async function expiredBilling(
    tenantId: string,
    contract: Contract,
    policy: RetentionPolicy,
    heldPseudonyms: Set<string>,
    now: Date,
  ): Promise<SeriesCount & { periods: string[] }> {
    const results = checked(
      await store.query(
        tenantId,
        `SELECT count(energy_kwh) FROM ${BILLING_MEASUREMENT} WHERE ${contractCondition(contract.id)} GROUP BY *`,
      ),
    );
    const periods = new Set<string>();
    const total = { series: 0, points: 0 };
    const contractEnd = contract.endsOn ? dayAfter(contract.endsOn) : undefined;
    for (const s of results[0]?.series ?? []) {
      const period = s.tags?.period ?? '';
      if (!/^\d{4}-\d{2}$/.test(period) || heldPseudonyms.has(s.tags?.device ?? '')) continue;
      let end = addMonths(`${period}-01`, policy.billingPeriodMonths);
      if (contractEnd && contractEnd < end) end = contractEnd;
      if (billingKeepUntil(contract.jurisdiction, end, policy.fiscalYearEndMonth) > now) continue;
      periods.add(period);
      total.series += 1;
      total.points += Number(s.values[0]?.[1] ?? 0);
    }
    return { ...total, periods: [...periods].sort() };
  }

  /** Of these pseudonyms, those no billing reading carries any more (exact: a filtered SHOW TAG VALUES). */
  async function withoutBillingReadings(tenantId: string, pseudonyms: string[]): Promise<string[]> {
    const [result] = checked(
      await store.query(
        tenantId,
        `SHOW TAG VALUES FROM ${BILLING_MEASUREMENT} WITH KEY = device WHERE device =~ /./`,
      ),
    );
    const kept = new Set((result?.series ?? []).flatMap((s) => s.values.map((v) => String(v[1]))));
    return pseudonyms.filter((p) => !kept.has(p));
  }

  async function processTenant(
    tenantId: string,
    mode: 'plan' | 'run',
    runId: string,
  ): Promise<RetentionReport> {
    const now = clock();
    // Readings accepted before the run but still in transit would bring dropped series back.
    if (mode === 'run') await drainedWithin(deps.transport, 5 * 60_000);
    const contracts = await registry.listContracts(tenantId);
    const devicesByContract = await devicesOf(tenantId);
    const held = await holds.held(tenantId, now);
    const progress = createRetentionProgress(registry.sql, tenantId);
    const removed: string[] = [];
    const report: RetentionReport = {
      kind: mode === 'plan' ? 'plan' : 'receipt',
      ...(mode === 'run' ? { runId } : {}),
      tenantId,
      at: now.toISOString(),
      contracts: [],
    };

    // Aggregates an older Skjold published with min, max and small groups: rewritten first.
    report.legacyAggregates = await legacyAggregates(store, tenantId, progress, mode, runId);
    if (mode === 'run' && report.legacyAggregates.contracts > 0) {
      await audit.append({
        actor: 'retention',
        action: 'retention.aggregates_rewrite',
        tenantId,
        detail: { runId, ...report.legacyAggregates },
      });
    }

    for (const contract of contracts) {
      const policy = await policies.get(tenantId, contract.id);
      const devices = devicesByContract.get(contract.id) ?? [];
      await count(tenantId, contract.id, devices);
      const due = contract.endsOn ? dueOn(contract.endsOn, policy) : null;
      const lastPeriodEnd = contract.endsOn ? dayAfter(contract.endsOn) : null;
      const keepUntil = lastPeriodEnd
        ? billingKeepUntil(contract.jurisdiction, lastPeriodEnd, policy.fiscalYearEndMonth)
        : null;
      const tenantHolds = held.tenantHolds.map(holdRef);
      const status: ContractRetention['status'] = !due
        ? 'running'
        : now < due
          ? 'not_due'
          : tenantHolds.length > 0
            ? 'held'
            : 'due';
      const entry: ContractRetention = {
        contractId: contract.id,
        role: contract.role,
        jurisdiction: contract.jurisdiction,
        startsOn: contract.startsOn,
        endsOn: contract.endsOn,
        policy,
        status,
        dueOn: due ? isoDay(due) : null,
        rule: due
          ? `telemetry ${policy.telemetryAction === 'anonymise' ? `anonymised (${policy.anonymiseGroup === 'area' ? 'areas' : 'the whole contract'} × ${policy.anonymiseInterval}, k = ${policy.anonymiseK}; count, sum and mean only${policy.anonymiseNoise ? `, Laplace noise ε = ${policy.anonymiseNoise.epsilon}` : ''})` : 'deleted'} ${policy.graceMonths} months after the contract's end (${contract.endsOn}): on ${isoDay(due)}`
          : `kept while the contract runs; telemetry is ${policy.telemetryAction === 'anonymise' ? 'anonymised' : 'deleted'} ${policy.graceMonths} months after it ends`,
        telemetry: { action: status === 'due' ? policy.telemetryAction : 'keep', affected: {}, held: {} },
        billing: {
          keepUntil: keepUntil ? isoDay(keepUntil) : null,
          rule: `${contract.jurisdiction}, fiscal year ending in month ${policy.fiscalYearEndMonth}, ${policy.billingPeriodMonths}-month billing periods; ${BOOKKEEPING[contract.jurisdiction]}; each period's readings have their own date, the last period's is shown`,
          devicesReduced: 0,
          readingsKept: 0,
          expired: { series: 0, points: 0, periods: [] },
        },
        held: [],
        tenantHolds: status === 'held' ? tenantHolds : [],
        notices: [],
        ...(policy.telemetryAction === 'anonymise' ? { anonymisation: anonymisationTerms(policy) } : {}),
      };
      report.contracts.push(entry);
      if (contract.role === 'processor' && due && now < due) {
        // Art. 28(3)(g): the controller chooses deletion or return of its data at the end of the service.
        entry.notices.push(
          `processor contract: the tenant may ask for a full export of its data before ${isoDay(due)}, when its telemetry is ${policy.telemetryAction === 'anonymise' ? 'anonymised' : 'deleted'}`,
        );
      }

      if (status !== 'due') {
        for (const d of devices) addCount(entry.telemetry.affected, d.kind, d.counts);
        if (status === 'held')
          entry.notices.push(
            `held by ${tenantHolds.map((h) => h.id).join(', ')}: nothing is deleted or anonymised`,
          );
        continue;
      }

      const free: ContractDevice[] = [];
      for (const d of devices) {
        if (held.covers(d.deviceId)) {
          entry.held.push({
            deviceId: d.deviceId,
            kind: d.kind,
            pseudonyms: d.pseudonyms,
            holds: held.holdsFor(d.deviceId).map(holdRef),
          });
          addCount(entry.telemetry.held, d.kind, d.counts);
        } else {
          free.push(d);
          addCount(entry.telemetry.affected, d.kind, d.counts);
        }
      }
      const heldPseudonyms = new Set(entry.held.flatMap((h) => h.pseudonyms));
      const meters = free.filter((d) => d.kind === 'heat_meter');
      const lapsed = entry.billing.keepUntil !== null && entry.billing.keepUntil <= isoDay(now);
      entry.billing.devicesReduced = lapsed ? 0 : meters.length;
      entry.billing.expired = await expiredBilling(tenantId, contract, policy, heldPseudonyms, now);
      if (mode === 'plan') continue;

      await runContract({
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
        uniform: deps.uniform,
      });
      removed.push(...free.flatMap((d) => d.pseudonyms));
    }
    if (mode === 'run' && deps.indexPurge && removed.length > 0) {
      // Pseudonyms that keep billing readings stay listed by right, until those expire.
      report.index = await deps.indexPurge.ensureGone(
        tenantId,
        await withoutBillingReadings(tenantId, removed),
      );
    }
    return report;
  }

  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const key = registry.sql;
    const previous = running.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    running.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }

  async function tenants(tenantId?: string): Promise<string[]> {
    if (tenantId) {
      if (!(await registry.getTenant(tenantId)))
        throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `tenant ${tenantId}`);
      return [tenantId];
    }
    return (await registry.listTenants()).map((t) => t.id);
  }

  return {
    policies,

    /** What a run would do now, changing nothing. */
    async plan(tenantId?: string): Promise<RetentionReport[]> {
      const reports = [];
      for (const t of await tenants(tenantId)) reports.push(await processTenant(t, 'plan', ''));
      return reports;
    },

    /** Does it, and returns one receipt per tenant. A failed run can simply be run again. */
    run(tenantId?: string, trigger: 'operator' | 'schedule' = 'operator'): Promise<RetentionReport[]> {
      return exclusive(async () => {
        const reports = [];
        for (const t of await tenants(tenantId)) {
          const runId = `run-${randomUUID()}`;
          try {
            const receipt = await processTenant(t, 'run', runId);
            reports.push(receipt);
            await audit.append({
              actor: 'retention',
              action: 'retention.run',
              tenantId: t,
              target: runId,
              detail: { trigger, ...summarise(receipt) },
            });
          } catch (err) {
            await audit
              .append({
                actor: 'retention',
                action: 'retention.run',
                tenantId: t,
                target: runId,
                detail: { trigger, interrupted: true, code: (err as { code?: string }).code ?? 'unknown' },
              })
              .catch(() => undefined);
            throw new SkjoldError(
              'SKJOLD_ERR_RETENTION',
              `tenant ${t}, run ${runId}; running again resumes it`,
              {
                cause: err,
              },
            );
          }
        }
        return reports;
      });
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;

/**
 * Runs retention for one tenant with an app's deps (what `npm run bench`
 * calls): the receipt and how long it took.
 */
export async function runRetentionForTenant(
  deps: RetentionDeps,
  tenantId: string,
): Promise<{ receipt: RetentionReport; ms: number }> {
  const started = performance.now();
  const [receipt] = await createRetention(deps).run(tenantId);
  if (!receipt) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `tenant ${tenantId}`);
  return { receipt, ms: performance.now() - started };
}
