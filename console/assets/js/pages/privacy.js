import { card, empty, fill, h, pill, select, table } from '../dom.js';
import {
  daysUntil,
  fmtDate,
  fmtDateTime,
  fmtInt,
  fmtRelative,
  requestKindLabel,
  shortPseudonym,
} from '../format.js';

const FILEABLE = [
  'access',
  'portability',
  'erasure',
  'restriction',
  'restriction_lift',
  'objection',
  'consent_withdrawal',
  'rectification',
];
const EXPORTABLE = new Set(['access', 'portability']);

/** Subject references typed on this page, by request id: kept in memory only, never stored in the browser. */
const refsByRequest = new Map();

function dueCell(r) {
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

const statusPill = (s) =>
  pill(s, s === 'completed' ? 'ok' : s === 'refused' ? 'bad' : s === 'extended' ? 'warn' : '');

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * The privacy desk: open data-subject requests (overdue first, art. 12(3)
 * one month), contracts whose retention date is near, legal holds, the last
 * retention run and what the next would do, and whether the audit chain is
 * intact. A tenant user files, extends and completes its own requests here
 * and downloads a subject's export (art. 15, 20).
 */
export async function render(ctx) {
  const { api, el } = ctx;
  const tenantUser = !api.operator;
  const showTenant = api.operator && !ctx.tenant;
  const body = h('div', { class: 'grid' });
  el.replaceChildren(body);

  async function act(what, fn) {
    try {
      const message = await fn();
      await load();
      ctx.flash(message);
    } catch (err) {
      ctx.flash(`${what} failed: ${err.message}`, 'error');
    }
  }

  function fileForm() {
    const ref = h('input', {
      id: 'request-subject',
      name: 'subjectRef',
      required: true,
      placeholder: 'your reference, e.g. customer number',
      size: 32,
      autocomplete: 'off',
    });
    const kind = select(
      FILEABLE.map((k) => ({ value: k, label: requestKindLabel(k) })),
      'access',
      { id: 'request-kind', name: 'kind' },
    );
    return card(
      'File a request',
      'due one month from today (art. 12(3))',
      h(
        'form',
        {
          class: 'inline-form',
          id: 'file-request',
          onsubmit: (e) => {
            e.preventDefault();
            const subjectRef = ref.value.trim();
            if (!subjectRef) return;
            act('Filing the request', async () => {
              const r = await api.fileRequest(subjectRef, kind.value);
              refsByRequest.set(r.id, subjectRef);
              ref.value = '';
              return `Request filed: ${requestKindLabel(r.kind)}, due ${fmtDate(r.dueAt)}.`;
            });
          },
        },
        h('label', { class: 'field' }, h('span', null, 'Subject reference'), ref),
        h('label', { class: 'field' }, h('span', null, 'Kind'), kind),
        h('button', { type: 'submit', class: 'primary' }, 'File request'),
      ),
      h(
        'p',
        { class: 'fine-print' },
        'The reference is your own customer or subject number; Skjold keeps only its pseudonym.',
      ),
    );
  }

  /** The row's action panel: extend, complete, or download the export (access and portability). */
  function actionsFor(r, panelRow) {
    const open = (content) => {
      panelRow.firstChild.replaceChildren(content);
      panelRow.hidden = false;
      panelRow.querySelector('input')?.focus();
    };
    const buttons = [];
    if (EXPORTABLE.has(r.kind)) {
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small primary',
            dataset: { action: 'export', request: r.id },
            onclick: () => {
              const ref = h('input', {
                name: 'subjectRef',
                value: refsByRequest.get(r.id) ?? '',
                required: true,
                placeholder: 'subject reference',
                autocomplete: 'off',
              });
              const format = select(
                [
                  { value: 'json', label: 'JSON (with receipt)' },
                  { value: 'csv', label: 'CSV' },
                ],
                r.kind === 'portability' ? 'csv' : 'json',
                { name: 'format' },
              );
              open(
                h(
                  'form',
                  {
                    class: 'inline-form',
                    dataset: { form: 'export' },
                    onsubmit: (e) => {
                      e.preventDefault();
                      act('The export', async () => {
                        const res = await api.exportSubject(ref.value.trim(), r.id, format.value);
                        saveBlob(await res.blob(), `subject-${r.id}.${format.value}`);
                        return `Export downloaded; request ${r.id.slice(0, 8)} is done.`;
                      });
                    },
                  },
                  h('label', { class: 'field' }, h('span', null, 'Subject reference'), ref),
                  h('label', { class: 'field' }, h('span', null, 'Format'), format),
                  h('button', { type: 'submit', class: 'primary' }, 'Download export'),
                ),
              );
            },
          },
          'Export',
        ),
      );
    }
    if (r.status !== 'extended') {
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            dataset: { action: 'extend', request: r.id },
            onclick: () => {
              const months = select(['1', '2'], '2', { name: 'months' });
              const reason = h('input', {
                name: 'reason',
                required: true,
                placeholder: 'reason the subject is told',
                size: 40,
              });
              open(
                h(
                  'form',
                  {
                    class: 'inline-form',
                    dataset: { form: 'extend' },
                    onsubmit: (e) => {
                      e.preventDefault();
                      act('Extending', async () => {
                        const x = await api.extendRequest(r.id, Number(months.value), reason.value.trim());
                        return `Request extended; now due ${fmtDate(x.dueAt)}.`;
                      });
                    },
                  },
                  h('label', { class: 'field' }, h('span', null, 'Extend by (months)'), months),
                  h('label', { class: 'field' }, h('span', null, 'Reason (art. 12(3))'), reason),
                  h('button', { type: 'submit', class: 'primary' }, 'Extend'),
                ),
              );
            },
          },
          'Extend',
        ),
      );
    }
    buttons.push(
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          dataset: { action: 'complete', request: r.id },
          onclick: () => {
            const outcome = h('input', { name: 'outcome', placeholder: 'outcome (optional)', size: 40 });
            open(
              h(
                'form',
                {
                  class: 'inline-form',
                  dataset: { form: 'complete' },
                  onsubmit: (e) => {
                    e.preventDefault();
                    act('Completing', async () => {
                      await api.completeRequest(r.id, outcome.value.trim());
                      return `Request ${r.id.slice(0, 8)} marked done.`;
                    });
                  },
                },
                h('label', { class: 'field' }, h('span', null, 'Outcome'), outcome),
                h('button', { type: 'submit', class: 'primary' }, 'Mark done'),
              ),
            );
          },
        },
        'Complete',
      ),
    );
    return h('div', { class: 'actions' }, buttons);
  }

  function requestsTable(requests) {
    if (!requests?.length)
      return empty(
        'No open requests.',
        tenantUser
          ? 'File one above when a data subject asks.'
          : 'Requests tenants file appear here with their due dates.',
      );
    const rows = [];
    for (const r of requests) {
      const panelRow = h('tr', { class: 'panel-row', hidden: true }, h('td', { colspan: 8 }));
      const cols = [
        h('td', null, h('code', { title: r.id }, r.id.slice(0, 8))),
        showTenant ? h('td', null, r.tenant) : null,
        h('td', null, h('code', { title: r.subject }, shortPseudonym(r.subject))),
        h('td', null, requestKindLabel(r.kind)),
        h('td', null, fmtDate(r.receivedAt)),
        h('td', null, dueCell(r)),
        h('td', null, statusPill(r.overdue ? 'overdue' : r.status)),
        tenantUser ? h('td', null, actionsFor(r, panelRow)) : null,
      ];
      rows.push(h('tr', { class: r.overdue ? 'overdue' : null, dataset: { request: r.id } }, cols));
      if (tenantUser) rows.push(panelRow);
    }
    const heads = [
      'Request',
      showTenant ? 'Tenant' : null,
      'Subject',
      'Kind',
      'Received',
      'Due',
      'Status',
      tenantUser ? 'Actions' : null,
    ].filter(Boolean);
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'open-requests' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            heads.map((x) => h('th', null, x)),
          ),
        ),
        h('tbody', null, rows),
      ),
    );
  }

  function retentionCard(last, preview) {
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

  async function load() {
    // Filing a request works even when the desk's overview cannot be had: each part fails on its own.
    const [answer, closed, preview] = await Promise.all([
      api.desk(ctx.tenant ?? undefined).then(
        (desk) => ({ desk }),
        (error) => ({ error }),
      ),
      tenantUser ? api.listRequests().catch(() => []) : Promise.resolve([]),
      api.retentionPreview(ctx.tenant ?? undefined).catch(() => null),
    ]);
    if (answer.error?.status === 401) throw answer.error;
    const desk = answer.desk ?? null;
    const audit = desk?.audit ?? { ok: false, entries: 0, problems: [] };
    const done = closed
      .filter((r) => r.status === 'completed' || r.status === 'refused')
      .slice(-10)
      .reverse();
    fill(
      body,
      tenantUser ? fileForm() : null,
      desk
        ? card(
            'Open requests',
            `${fmtInt(desk.requests?.length ?? 0)} open · overdue first`,
            requestsTable(desk.requests),
          )
        : card('Privacy desk', null, empty('The privacy desk could not be loaded.', answer.error?.message)),
      tenantUser
        ? card(
            'Recently closed requests',
            null,
            table(
              [
                { label: 'Request', value: (r) => h('code', { title: r.id }, r.id.slice(0, 8)) },
                { label: 'Kind', value: (r) => requestKindLabel(r.kind) },
                { label: 'Status', value: (r) => statusPill(r.status) },
                { label: 'Closed', value: (r) => fmtDateTime(r.completedAt) },
              ],
              done,
              empty('No closed requests yet.', null),
              () => 'closed-request',
            ),
          )
        : null,
      desk ? deskDetails(desk, audit, preview) : null,
    );
  }

  function deskDetails(desk, audit, preview) {
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
      retentionCard(desk.lastRetention, preview),
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

  await load();
}
