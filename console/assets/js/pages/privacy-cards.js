import { card, empty, h, pill, table } from '../dom.js';
import { daysUntil, fmtDate, fmtDateTime, fmtInt, fmtRelative, shortPseudonym } from '../format.js';

export function dueCell(r) {
  const days = daysUntil(r.dueAt);
  return h(
    'span',
    { title: fmtDateTime(r.dueAt) },
    fmtDate(r.dueAt),
    ' ',
    r.overdue
      ? pill(`${-days} days overdue`, 'bad')
      : days <= 7
        ? pill(`${days} days left`, 'warn')
        : h('span', { class: 'muted' }, `(${fmtRelative(r.dueAt)})`),
  );
}

export const statusPill = (s) =>
  pill(s, s === 'completed' ? 'ok' : s === 'refused' ? 'bad' : s === 'extended' ? 'warn' : '');

/** When retention last ran, and what the next run would do per contract and why. */
function retentionCard(last, preview, showTenant) {
  const contracts = (preview ?? []).flatMap((p) =>
    (p.contracts ?? []).map((c) => ({ tenant: p.tenant, ...c })),
  );
  return card(
    'Retention',
    last
      ? `last run ${fmtDateTime(last.at)}${showTenant && last.tenant ? ` (${last.tenant})` : ''}`
      : 'not run yet',
    h('h3', null, 'What the next run would do'),
    preview
      ? table(
          [
            ...(showTenant ? [{ label: 'Tenant', value: (c) => c.tenant }] : []),
            { label: 'Contract', value: (c) => c.contract },
            {
              label: 'Status',
              value: (c) =>
                pill(
                  c.status.replace('_', ' '),
                  c.status === 'due' ? 'warn' : c.status === 'held' ? 'bad' : '',
                ),
            },
            { label: 'Retention from', value: (c) => (c.dueOn ? fmtDate(c.dueOn) : 'contract running') },
            { label: 'Telemetry', value: (c) => c.action ?? '—' },
            { label: 'Rule', value: (c) => h('span', { class: 'muted' }, c.rule) },
          ],
          contracts,
          empty('Nothing to plan.', 'No contract has data under retention.'),
        )
      : empty('The plan could not be loaded.', null),
  );
}

/** Contracts ending, legal holds, retention and the audit chain: the desk below the requests. */
export function deskDetails(desk, audit, preview, { api, showTenant }) {
  return [
    h(
      'div',
      { class: 'grid grid-2' },
      card(
        'Contracts ending',
        'retention within 90 days',
        table(
          [
            ...(showTenant ? [{ label: 'Tenant', value: (c) => c.tenant }] : []),
            { label: 'Contract', value: (c) => c.contract },
            { label: 'Ends', value: (c) => fmtDate(c.endsOn) },
            { label: 'Data removed from', value: (c) => fmtDate(c.retentionAt) },
            {
              label: 'Days left',
              value: (c) => pill(`${fmtInt(c.daysLeft)} days`, c.daysLeft <= 14 ? 'bad' : 'warn'),
              num: true,
            },
          ],
          desk.contractsEnding,
          empty('No retention date in the next 90 days.', null),
        ),
      ),
      card(
        'Legal holds',
        'deletion stopped (art. 17(3)(e))',
        table(
          [
            ...(showTenant ? [{ label: 'Tenant', value: (x) => x.tenant }] : []),
            { label: 'Scope', value: (x) => x.scope },
            {
              label: 'Target',
              value: (x) =>
                x.target ? h('code', { title: x.target }, shortPseudonym(x.target)) : 'whole tenant',
            },
            // The operator's reason is not shown to tenants (the desk API leaves it out).
            ...(api.operator ? [{ label: 'Reason', value: (x) => x.reason }] : []),
            { label: 'Until', value: (x) => (x.until ? fmtDate(x.until) : 'lifted by hand') },
          ],
          desk.holds,
          empty('No legal holds.', null),
        ),
      ),
    ),
    retentionCard(desk.lastRetention, preview, showTenant),
    card(
      'Audit log',
      'append-only, hash-chained',
      h(
        'p',
        { id: 'audit-status' },
        audit.ok ? pill('Chain intact', 'ok') : pill('Chain broken', 'bad'),
        ` ${fmtInt(audit.entries)} entries checked.`,
      ),
      audit.problems?.length
        ? h(
            'ul',
            null,
            audit.problems
              .slice(0, 20)
              .map((p) => h('li', null, typeof p === 'string' ? p : JSON.stringify(p))),
          )
        : null,
    ),
  ];
}
