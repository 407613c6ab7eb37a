import { card, empty, h } from '../dom.js';
import { fmtDate, fmtInt, kindLabel } from '../format.js';

const list = (items) =>
  items?.length
    ? h(
        'ul',
        null,
        items.map((i) => h('li', null, i)),
      )
    : '—';

/**
 * The art. 30 records of processing, one per contract: who is controller and
 * who processor, purposes, legal basis, categories, recipients, transfers,
 * retention and security measures, written out as a page a supervisory
 * authority could be shown.
 */
export async function render(ctx) {
  const { api, el } = ctx;
  const records = await api.records(ctx.tenant ?? undefined);
  if (!ctx.current()) return;
  if (!records.length) {
    el.replaceChildren(
      card(
        'Records of processing',
        null,
        empty('No contracts registered.', 'Each contract a tenant has becomes a record here.'),
      ),
    );
    return;
  }
  el.replaceChildren(
    h(
      'p',
      { class: 'muted' },
      'One record per contract, drawn from the registry as it is now. ',
      api.operator
        ? h(
            'a',
            {
              href: `/v1/records?format=text${ctx.tenant ? `&tenant=${encodeURIComponent(ctx.tenant)}` : ''}`,
              target: '_blank',
            },
            'Plain-text version',
          )
        : null,
    ),
    ...records.map((r) =>
      card(
        `${r.tenant.name} · ${r.contract}`,
        `${r.article} · ${r.variant === 'controller' ? 'we are the controller' : 'we process for the tenant'}`,
        h(
          'div',
          { class: 'record' },
          h(
            'dl',
            null,
            h('dt', null, 'Controller'),
            h('dd', null, r.controller),
            r.processor ? [h('dt', null, 'Processor'), h('dd', null, r.processor)] : null,
            h('dt', null, 'Purposes'),
            h('dd', null, list(r.purposes)),
            h('dt', null, 'Legal basis'),
            h('dd', null, r.legalBasis),
            h('dt', null, 'Jurisdiction'),
            h('dd', null, r.jurisdiction),
            h('dt', null, 'Period'),
            h(
              'dd',
              null,
              `${fmtDate(r.period?.startsOn)} – ${r.period?.endsOn ? fmtDate(r.period.endsOn) : 'open-ended'}`,
            ),
            h('dt', null, 'Data subjects'),
            h('dd', null, list(r.categoriesOfSubjects)),
            h('dt', null, 'Personal data'),
            h('dd', null, list(r.categoriesOfData)),
            h('dt', null, 'Devices'),
            h(
              'dd',
              null,
              list(Object.entries(r.devices ?? {}).map(([k, n]) => `${kindLabel(k)}: ${fmtInt(n)}`)),
            ),
            h('dt', null, 'Recipients'),
            h('dd', null, list(r.recipients)),
            h('dt', null, 'Transfers to third countries'),
            h('dd', null, r.transfersToThirdCountries),
            h('dt', null, 'Retention'),
            h('dd', null, list(r.retention)),
            h('dt', null, 'Security measures (art. 32)'),
            h('dd', null, list(r.securityMeasures)),
          ),
        ),
      ),
    ),
  );
}
