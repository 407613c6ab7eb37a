import { card, empty, fill, h, table } from '../dom.js';
import { fmtDate, fmtDateTime, fmtInt, requestKindLabel, shortPseudonym } from '../format.js';
import { fileForm, requestActions, shortId, tenantExportCard } from './privacy-actions.js';
import { deskDetails, dueCell, statusPill } from './privacy-cards.js';

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

  function requestsTable(requests) {
    if (!requests?.length) {
      const none = empty(
        'No open requests.',
        tenantUser
          ? 'File one above when a data subject asks.'
          : 'Requests tenants file appear here with their due dates.',
      );
      none.id = 'open-requests-empty';
      return none;
    }
    const rows = [];
    for (const r of requests) {
      const panelRow = h('tr', { class: 'panel-row', hidden: true }, h('td', { colspan: 8 }));
      const cols = [
        h('td', null, h('code', { title: r.id }, shortId(r.id))),
        showTenant ? h('td', null, r.tenant) : null,
        h('td', null, h('code', { title: r.subject }, shortPseudonym(r.subject))),
        h('td', null, requestKindLabel(r.kind)),
        h('td', { class: 'nowrap' }, fmtDate(r.receivedAt)),
        h('td', { class: 'nowrap' }, dueCell(r)),
        h('td', null, statusPill(r.overdue ? 'overdue' : r.status)),
        tenantUser ? h('td', null, requestActions(r, panelRow, { api, act })) : null,
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
      tenantUser ? fileForm({ api, act }) : null,
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
                { label: 'Request', value: (r) => h('code', { title: r.id }, shortId(r.id)) },
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
      desk ? deskDetails(desk, audit, preview, { api, showTenant }) : null,
      ctx.user.role === 'tenant_admin' ? tenantExportCard({ api, act }) : null,
    );
  }

  await load();
}
