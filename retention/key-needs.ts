/**
 * What still needs one of a tenant's key versions: the checks `keys destroy`
 * makes before crypto-shredding it (docs/retention.md, *Crypto-shredding*).
 * Destroying a version makes every pseudonym under it unlinkable for good, so
 * it waits for whatever has a duty to keep that link:
 *
 * - an active legal hold (art. 17(3)(e)) sealed under the version, naming its
 *   subject by a pseudonym under it, or covering a device (tenant hold: any)
 *   that has a pseudonym under it;
 * - an open data-subject request (art. 12(3)) naming its subject by a
 *   pseudonym under the version, or whose subject is linked to a device with
 *   a pseudonym under it;
 * - telemetry tagged with a pseudonym under the version (`device =~ /^vN\./`)
 *   for a contract still running or whose retention date (end + grace,
 *   policy.ts) has not come;
 * - billing readings under the version whose bookkeeping keep-until
 *   (billing.ts, art. 17(3)(b)) has not come.
 */
import type { Clock } from '../lib/clock.ts';
import { DEVICE_KINDS } from '../lib/device-kinds.ts';
import type { KeyStore } from '../pseudonymizer/keystore.ts';
import type { Registry } from '../registry/registry.ts';
import type { Sealer } from '../requests/sealing.ts';
import { quoteIdentifier } from '../store/influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { BILLING_MEASUREMENT, billingKeepUntil } from './billing.ts';
import type { LegalHolds } from './holds.ts';
import { addMonths, createRetentionPolicies, DEFAULT_POLICY, dueOn } from './policy.ts';
import { dayAfter, isoDay } from './report.ts';
import { COUNT_FIELD, checked } from './telemetry.ts';

export interface RetentionNeed {
  contractId: string;
  data: 'telemetry' | 'billing';
  /** YYYY-MM-DD the data's retention ends; null while the contract runs (no end date). */
  until: string | null;
}

export interface KeyNeeds {
  /** Active legal holds, by id. */
  holds: string[];
  /** Open or extended data-subject requests, by id. */
  requests: string[];
  retention: RetentionNeed[];
}

export interface KeyNeedsDeps {
  registry: Registry;
  store: TelemetryStore;
  holds: LegalHolds;
  keyStore: Pick<KeyStore, 'versions'>;
  sealer: Pick<Sealer, 'subjectPseudonym'>;
  clock: Clock;
}

const VERSION = /^v(\d+)\./;

export const nothingNeeds = (n: KeyNeeds): boolean =>
  n.holds.length === 0 && n.requests.length === 0 && n.retention.length === 0;

/** The needs in words, for error messages and the CLI. */
export function describeNeeds(n: KeyNeeds): string {
  const parts: string[] = [];
  if (n.holds.length > 0) parts.push(`legal holds ${n.holds.join(', ')}`);
  if (n.requests.length > 0) parts.push(`open requests ${n.requests.join(', ')}`);
  for (const r of n.retention) {
    parts.push(
      `contract ${r.contractId}: ${r.data} ${r.until === null ? 'kept while the contract runs' : `kept until ${r.until}`}`,
    );
  }
  return parts.join('; ');
}

export function createKeyNeeds(deps: KeyNeedsDeps) {
  const { registry, store, holds, keyStore, sealer, clock } = deps;
  const sql = registry.sql;
  const policies = createRetentionPolicies(sql);

  async function devicesUnder(tenantId: string, version: number): Promise<Set<string>> {
    const rows = await sql.query<{ deviceId: string }>(
      `SELECT DISTINCT p.device_id AS "deviceId" FROM device_pseudonyms p JOIN devices d ON d.id = p.device_id
       WHERE d.tenant_id = $1 AND p.key_version = $2`,
      [tenantId, version],
    );
    return new Set(rows.map((r) => r.deviceId));
  }

  async function holdNeeds(tenantId: string, version: number, devices: Set<string>, now: Date) {
    const prefix = `v${version}.`;
    const rows = await sql.query<{
      id: string;
      scope: string;
      target: string | null;
      reason: string;
      subjectSealed: string | null;
    }>(
      `SELECT id, scope, target, reason, subject_sealed AS "subjectSealed" FROM legal_holds
       WHERE tenant_id = $1 AND released_at IS NULL AND (until IS NULL OR until >= $2::date) ORDER BY id`,
      [tenantId, isoDay(now)],
    );
    if (rows.length === 0) return [];
    const needed = new Set<string>();
    for (const r of rows) {
      // Its own text would become unreadable, its subject unresolvable.
      if (r.reason.startsWith(prefix) || r.subjectSealed?.startsWith(prefix)) needed.add(r.id);
      if (r.scope === 'subject' && r.target?.startsWith(prefix)) needed.add(r.id);
    }
    if (devices.size > 0) {
      const held = await holds.held(tenantId, now);
      for (const h of held.tenantHolds) needed.add(h.id);
      for (const d of devices) for (const h of held.byDevice.get(d) ?? []) needed.add(h.id);
    }
    return [...needed].sort();
  }

  async function requestNeeds(tenantId: string, version: number, devices: Set<string>) {
    const open = await sql.query<{ id: string; subject: string }>(
      `SELECT id, subject FROM subject_requests WHERE tenant_id = $1 AND status IN ('open', 'extended') ORDER BY id`,
      [tenantId],
    );
    if (open.length === 0) return [];
    const held = new Set(keyStore.versions(tenantId));
    const refs = await sql.query<{ ref: string }>('SELECT ref FROM subjects WHERE tenant_id = $1', [
      tenantId,
    ]);
    // Subject pseudonym → ref, per key version the open requests name subjects under.
    const named = new Map<number, Map<string, string>>();
    const refNamed = (v: number, pseudonym: string): string | undefined => {
      let map = named.get(v);
      if (!map) {
        map = new Map(refs.map((s) => [sealer.subjectPseudonym(tenantId, s.ref, v), s.ref]));
        named.set(v, map);
      }
      return map.get(pseudonym);
    };
    const needed: string[] = [];
    for (const r of open) {
      const v = Number(VERSION.exec(r.subject)?.[1]);
      if (v === version) {
        needed.push(r.id);
        continue;
      }
      if (devices.size === 0 || !held.has(v)) continue;
      const ref = refNamed(v, r.subject);
      if (ref === undefined) continue;
      const linked = await sql.query<{ deviceId: string }>(
        'SELECT device_id AS "deviceId" FROM subject_devices WHERE tenant_id = $1 AND subject_ref = $2',
        [tenantId, ref],
      );
      if (linked.some((l) => devices.has(l.deviceId))) needed.push(r.id);
    }
    return needed;
  }

  async function retentionNeeds(tenantId: string, version: number, now: Date): Promise<RetentionNeed[]> {
    const under = `device =~ /^v${version}\\./`;
    const contracts = new Map((await registry.listContracts(tenantId)).map((c) => [c.id, c]));
    const stored = await policies.forTenant(tenantId);
    const policyOf = (id: string) => stored.get(id) ?? DEFAULT_POLICY;
    const until = new Map<string, RetentionNeed>();
    const need = (contractId: string, data: RetentionNeed['data'], day: string | null) => {
      const key = `${contractId}/${data}`;
      const prev = until.get(key);
      if (!prev) until.set(key, { contractId, data, until: day });
      else if (prev.until !== null && (day === null || day > prev.until)) prev.until = day;
    };

    const telemetry = checked(
      await store.query(
        tenantId,
        DEVICE_KINDS.map(
          (k) =>
            `SELECT count(${quoteIdentifier(COUNT_FIELD[k])}) FROM ${quoteIdentifier(k)} WHERE ${under} GROUP BY contract`,
        ).join('; '),
      ),
    );
    for (const result of telemetry) {
      for (const s of result.series ?? []) {
        if (Number(s.values[0]?.[1] ?? 0) === 0) continue;
        const contractId = s.tags?.contract ?? '';
        const c = contracts.get(contractId);
        // Data of a contract the registry does not know: kept until someone decides.
        if (!c?.endsOn) {
          need(contractId, 'telemetry', null);
          continue;
        }
        const due = dueOn(c.endsOn, policyOf(c.id));
        if (now < due) need(c.id, 'telemetry', isoDay(due));
      }
    }

    const [billing] = checked(
      await store.query(
        tenantId,
        `SELECT count(energy_kwh) FROM ${BILLING_MEASUREMENT} WHERE ${under} GROUP BY contract, period`,
      ),
    );
    for (const s of billing?.series ?? []) {
      const c = contracts.get(s.tags?.contract ?? '');
      const period = s.tags?.period ?? '';
      if (!c || !/^\d{4}-\d{2}$/.test(period)) {
        need(s.tags?.contract ?? '', 'billing', null);
        continue;
      }
      const policy = policyOf(c.id);
      let end = addMonths(`${period}-01`, policy.billingPeriodMonths);
      if (c.endsOn && dayAfter(c.endsOn) < end) end = dayAfter(c.endsOn);
      const keepUntil = billingKeepUntil(c.jurisdiction, end, policy.fiscalYearEndMonth);
      if (keepUntil > now) need(c.id, 'billing', isoDay(keepUntil));
    }
    return [...until.values()].sort(
      (a, b) => a.contractId.localeCompare(b.contractId) || a.data.localeCompare(b.data),
    );
  }

  return {
    devicesUnder,

    /** Everything that needs `version` of the tenant's key now; empty lists when nothing does. */
    async needs(tenantId: string, version: number): Promise<KeyNeeds> {
      const now = clock();
      const devices = await devicesUnder(tenantId, version);
      return {
        holds: await holdNeeds(tenantId, version, devices, now),
        requests: await requestNeeds(tenantId, version, devices),
        retention: await retentionNeeds(tenantId, version, now),
      };
    },
  };
}

export type KeyNeedsChecker = ReturnType<typeof createKeyNeeds>;
