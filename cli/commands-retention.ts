import type { KindCounts, RetentionReport } from '../retention/retention.ts';
import { apiFor, type Command, type Entry, flag, need, print, str } from './command-kit.ts';
import { runRetention, withProgress } from './long-commands.ts';

function counts(c: KindCounts): string {
  const parts = Object.entries(c).map(
    ([kind, v]) => `${kind}: ${v.devices} device(s), ${v.series} series, ${v.points} points`,
  );
  return parts.length > 0 ? parts.join('; ') : 'nothing';
}

/** A plan or receipt as text: per contract what goes, what stays, and the rule and holds behind it. */
export function formatReport(r: RetentionReport): string {
  const lines = [
    `${r.kind === 'plan' ? 'Retention plan' : `Retention receipt ${r.runId}`} for ${r.tenantId} at ${r.at}`,
  ];
  for (const c of r.contracts) {
    lines.push(
      `  ${c.contractId} (${c.role}, ${c.jurisdiction}) ${c.endsOn ? `ended ${c.endsOn}` : 'running'}: ${c.status}`,
    );
    lines.push(`    rule: ${c.rule}`);
    const verb =
      c.telemetry.action === 'keep'
        ? 'kept'
        : r.kind === 'plan'
          ? `to ${c.telemetry.action}`
          : `${c.telemetry.action}d`;
    lines.push(`    telemetry ${verb}: ${counts(c.telemetry.affected)}`);
    if (Object.keys(c.telemetry.held).length > 0) lines.push(`    held: ${counts(c.telemetry.held)}`);
    for (const h of [...c.tenantHolds.map((x) => ({ deviceId: 'all devices', holds: [x] })), ...c.held]) {
      for (const hold of h.holds) {
        lines.push(
          `      ${h.deviceId}: ${hold.id} (${hold.scope}: ${hold.reason}; until ${hold.until ?? 'released'})`,
        );
      }
    }
    if (c.anonymisation) {
      const n = c.anonymisation.noise;
      lines.push(
        `    aggregates publish ${c.anonymisation.published}; ${n ? `Laplace noise, ε = ${n.epsilon} per group` : 'no noise'}`,
      );
    }
    for (const [kind, a] of Object.entries(c.anonymised ?? {})) {
      lines.push(
        `    anonymised ${kind}: ${a.groups} group(s) published (k = ${c.policy.anonymiseK}), ${a.suppressed} suppressed, ${a.fieldsWithheld} field(s) withheld, ${a.clamped} value(s) clamped, ${a.devicesWithoutArea} device(s) without an area`,
      );
    }
    if (c.billing.keepUntil) {
      lines.push(`    billing readings kept until ${c.billing.keepUntil} (${c.billing.rule})`);
      if (c.status === 'due') {
        lines.push(
          `    billing: ${c.billing.devicesReduced} heat meter(s) reduced to register values${r.kind === 'receipt' ? ` (${c.billing.readingsKept} readings written)` : ''}; past keep-until: ${c.billing.expired.points} reading(s)${c.billing.expired.periods.length ? ` (${c.billing.expired.periods.join(', ')})` : ''}`,
        );
      }
    }
    if (c.skippedSteps)
      lines.push(`    resumed: ${c.skippedSteps} step(s) finished by an earlier run were skipped`);
    for (const n of c.notices) lines.push(`    note: ${n}`);
  }
  const legacy = r.legacyAggregates;
  if (legacy && legacy.contracts > 0)
    lines.push(
      `  older aggregates with minima/maxima (${legacy.contracts} contract(s)): ${legacy.rewritten} group(s) ${r.kind === 'plan' ? 'to keep' : 'kept'} as count and means, ${legacy.removed} group(s) under 5 devices ${r.kind === 'plan' ? 'to remove' : 'removed'}`,
    );
  if (r.index?.state === 'purged')
    lines.push(`  index: ${r.index.stale} removed pseudonym(s) purged from InfluxDB's index`);
  if (r.index?.state === 'pending')
    lines.push(`  index: ${r.index.stale} removed pseudonym(s) still listed: ${r.index.action}`);
  return `${lines.join('\n')}\n`;
}

const reports = (cmd: Command, list: RetentionReport[]) => {
  if (cmd.values.json === true) print(list);
  else process.stdout.write(list.map(formatReport).join('\n'));
};
const query = (cmd: Command) =>
  typeof cmd.values.tenant === 'string' ? `?tenant=${encodeURIComponent(cmd.values.tenant)}` : '';

const POLICY_OPTIONS = {
  telemetry: ['telemetryAction', String],
  'grace-months': ['graceMonths', Number],
  'billing-period-months': ['billingPeriodMonths', Number],
  'fiscal-year-end-month': ['fiscalYearEndMonth', Number],
  k: ['anonymiseK', Number],
  interval: ['anonymiseInterval', String],
  group: ['anonymiseGroup', String],
  'noise-epsilon': ['anonymiseNoise', (v: string) => (v === 'off' ? null : { epsilon: Number(v) })],
} as const;

export const RETENTION_USAGE = `  contracts end --tenant T --id C --on YYYY-MM-DD|none
                                                the day a contract ends; retention counts from it
  retention plan [--tenant T] [--json]          what a run would delete, anonymise and keep, and why (changes nothing)
  retention run [--tenant T] [--json]           run retention now and print the receipt
  retention policy --tenant T --contract C      show a contract's retention policy; set it with any of
                [--telemetry delete|anonymise] [--grace-months N] [--billing-period-months 1|2|3|4|6|12]
                [--fiscal-year-end-month 1-12] [--k N (at least 5)] [--interval 1h|1d|7d] [--group area|contract]
                [--noise-epsilon ε|off]          Laplace noise on published sums and means (docs/retention.md)
  holds add --tenant T --scope tenant|subject|device [--target REF|DEVICE_ID] --reason TEXT [--until YYYY-MM-DD]
  holds list --tenant T
  holds release --tenant T --id HOLD_ID
`;

export function retentionCommands(): Entry[] {
  return [
    {
      name: 'retention plan',
      options: { tenant: str, json: flag },
      async run(cmd) {
        const res = await (await apiFor(cmd.config)).call<{ plans: RetentionReport[] }>(
          'GET',
          `/v1/retention/plan${query(cmd)}`,
        );
        reports(cmd, res.plans);
      },
    },
    {
      name: 'retention run',
      options: { tenant: str, json: flag },
      async run(cmd) {
        const api = await apiFor(cmd.config);
        const tenant = typeof cmd.values.tenant === 'string' ? cmd.values.tenant : undefined;
        reports(
          cmd,
          await withProgress(cmd, 'retention run', (progress) => runRetention(api, tenant, progress)),
        );
      },
    },
    {
      name: 'retention policy',
      options: {
        tenant: str,
        contract: str,
        ...Object.fromEntries(Object.keys(POLICY_OPTIONS).map((k) => [k, str])),
      },
      async run(cmd) {
        const path = `/v1/tenants/${need(cmd, 'tenant')}/contracts/${encodeURIComponent(need(cmd, 'contract'))}/retention`;
        const patch = Object.fromEntries(
          Object.entries(POLICY_OPTIONS)
            .filter(([opt]) => typeof cmd.values[opt] === 'string')
            .map(([opt, [key, parse]]) => [key, parse(cmd.values[opt] as string)]),
        );
        const api = await apiFor(cmd.config);
        print(
          Object.keys(patch).length > 0 ? await api.call('PUT', path, patch) : await api.call('GET', path),
        );
      },
    },
    {
      name: 'contracts end',
      options: { tenant: str, id: str, on: str },
      async run(cmd) {
        const on = need(cmd, 'on');
        const path = `/v1/tenants/${need(cmd, 'tenant')}/contracts/${encodeURIComponent(need(cmd, 'id'))}/end`;
        print(await (await apiFor(cmd.config)).call('PUT', path, { endsOn: on === 'none' ? null : on }));
      },
    },
    {
      name: 'holds add',
      options: { tenant: str, scope: str, target: str, reason: str, until: str },
      async run(cmd) {
        const body = {
          scope: need(cmd, 'scope'),
          reason: need(cmd, 'reason'),
          ...(typeof cmd.values.target === 'string' ? { target: cmd.values.target } : {}),
          ...(typeof cmd.values.until === 'string' ? { until: cmd.values.until } : {}),
        };
        print(
          await (await apiFor(cmd.config)).call('POST', `/v1/tenants/${need(cmd, 'tenant')}/holds`, body),
        );
      },
    },
    {
      name: 'holds list',
      options: { tenant: str },
      run: async (cmd) =>
        print(await (await apiFor(cmd.config)).call('GET', `/v1/tenants/${need(cmd, 'tenant')}/holds`)),
    },
    {
      name: 'holds release',
      options: { tenant: str, id: str },
      run: async (cmd) =>
        print(
          await (await apiFor(cmd.config)).call(
            'POST',
            `/v1/tenants/${need(cmd, 'tenant')}/holds/${encodeURIComponent(need(cmd, 'id'))}/release`,
            {},
          ),
        ),
    },
  ];
}
