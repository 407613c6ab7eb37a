import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../lib/clock.ts';
import type { Registry } from '../registry/registry.ts';
import type { LegalHolds } from '../retention/holds.ts';
import { dueOn, type RetentionPolicies } from '../retention/policy.ts';
import { isoDay, summarise } from '../retention/report.ts';
import type { Retention } from '../retention/retention.ts';
import type { RequestLog, SubjectRequest } from './request-log.ts';

const DAY_MS = 86_400_000;
/** How far ahead the desk looks for contracts whose data retention will delete or anonymise. */
export const ENDING_WITHIN_DAYS = 90;

export interface DeskDeps {
  registry: Registry;
  holds: LegalHolds;
  audit: AuditLog;
  clock: Clock;
  requests: RequestLog;
  retention: Pick<Retention, 'plan'> & { policies: Pick<RetentionPolicies, 'get'> };
}

/** Who looks: the operator sees every tenant (or one), a tenant only itself and nothing of the operator's notes. */
export type DeskViewer = { kind: 'operator'; tenantId?: string } | { kind: 'tenant'; tenantId: string };

const open = (r: SubjectRequest) => r.status === 'open' || r.status === 'extended';

/**
 * The privacy desk: what a DPO works through each morning. Open data-subject
 * requests, overdue first (art. 12(3)); contracts whose end + grace falls due
 * within 90 days (the Swedish seed's "within one year after termination");
 * legal holds; the last retention run and what a run would do now; whether
 * the audit chain verifies (art. 5(2), accountability).
 */
export function createPrivacyDesk(deps: DeskDeps) {
  async function tenantsOf(viewer: DeskViewer): Promise<string[]> {
    if (viewer.tenantId) return [viewer.tenantId];
    return (await deps.registry.listTenants()).map((t) => t.id);
  }

  async function contractsEnding(tenants: readonly string[]) {
    const now = deps.clock();
    const out = [];
    for (const tenantId of tenants) {
      for (const c of await deps.registry.listContracts(tenantId)) {
        if (!c.endsOn) continue;
        const retentionAt = dueOn(c.endsOn, await deps.retention.policies.get(tenantId, c.id));
        const daysLeft = Math.ceil((retentionAt.getTime() - now.getTime()) / DAY_MS);
        if (daysLeft <= ENDING_WITHIN_DAYS)
          out.push({
            tenant: tenantId,
            contract: c.id,
            endsOn: c.endsOn,
            retentionAt: isoDay(retentionAt),
            daysLeft,
          });
      }
    }
    return out.sort((a, b) => a.daysLeft - b.daysLeft);
  }

  async function lastRetention(tenantId: string | undefined) {
    const [row] = await deps.registry.sql.query<{
      at: string;
      tenantId: string;
      target: string;
      detail: string;
    }>(
      `SELECT at, tenant_id AS "tenantId", target, detail FROM audit_log
       WHERE action = 'retention.run' AND ($1::text IS NULL OR tenant_id = $1) ORDER BY seq DESC LIMIT 1`,
      [tenantId ?? null],
    );
    return row
      ? { at: row.at, tenant: row.tenantId, runId: row.target, receipt: JSON.parse(row.detail) }
      : null;
  }

  return {
    async view(viewer: DeskViewer) {
      const tenants = await tenantsOf(viewer);
      const requests = (await deps.requests.list(viewer.tenantId ? { tenantId: viewer.tenantId } : {}))
        .filter(open)
        .sort((a, b) => Number(b.overdue) - Number(a.overdue) || a.dueAt.localeCompare(b.dueAt));
      const holds = [];
      for (const t of tenants)
        for (const h of await deps.holds.list(t))
          if (!h.releasedAt)
            holds.push({
              id: h.id,
              tenant: h.tenantId,
              scope: h.scope,
              target: h.target,
              until: h.until,
              // The operator's reason may concern the tenant itself: the tenant sees that a hold exists, not why.
              ...(viewer.kind === 'operator' ? { reason: h.reason } : {}),
            });
      const verified = await deps.audit.verify();
      return {
        at: deps.clock().toISOString(),
        requests: requests.map((r) => ({
          id: r.id,
          tenant: r.tenantId,
          subject: r.subject,
          kind: r.kind,
          status: r.status,
          receivedAt: r.receivedAt,
          dueAt: r.dueAt,
          overdue: r.overdue,
        })),
        contractsEnding: await contractsEnding(tenants),
        holds,
        lastRetention: await lastRetention(viewer.tenantId),
        audit:
          viewer.kind === 'operator'
            ? {
                ok: verified.ok,
                entries: verified.entries,
                head: verified.head,
                problems: verified.problems.slice(0, 20),
              }
            : { ok: verified.ok, entries: verified.entries },
      };
    },

    /** What `retention plan` would do now, summarised per tenant: the desk's preview. */
    async retentionPreview(tenantId?: string) {
      return (await deps.retention.plan(tenantId)).map((report) => ({
        tenant: report.tenantId,
        at: report.at,
        summary: summarise(report),
        contracts: report.contracts.map((c) => ({
          contract: c.contractId,
          status: c.status,
          dueOn: c.dueOn,
          action: c.telemetry.action,
          rule: c.rule,
          notices: c.notices,
        })),
      }));
    },
  };
}

export type PrivacyDesk = ReturnType<typeof createPrivacyDesk>;
