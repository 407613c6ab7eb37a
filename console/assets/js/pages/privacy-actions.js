import { card, h, select } from '../dom.js';
import { fmtDate, plural, requestKindLabel } from '../format.js';

export const FILEABLE = [
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

/**
 * Requests the desk carries out itself, by the subject's endpoint with the request's id: the request is then
 * answered and closed by the same step that did the work.
 */
const CARRY_OUT = {
  erasure: {
    label: 'Erase',
    path: 'erase',
    danger: true,
    note: 'Deletes the subject’s telemetry, device links and identifiers; billing readings the law requires are kept (art. 17(3)(b)). This cannot be undone. The receipt is downloaded.',
  },
  restriction: {
    label: 'Restrict',
    path: 'restrict',
    note: 'Keeps the data but takes the subject’s devices out of every chart, list, statistic and operator export (art. 18).',
  },
  restriction_lift: {
    label: 'Lift restriction',
    path: 'restrict/lift',
    note: 'The subject’s devices return to charts, lists and statistics (art. 18(3)).',
  },
  objection: {
    label: 'Record objection',
    path: 'object',
    purpose: true,
    note: 'Readings stop being stored for the purpose objected to, from now on (art. 21).',
  },
  consent_withdrawal: {
    label: 'Record withdrawal',
    path: 'withdraw-consent',
    purpose: true,
    note: 'Readings stop being stored for the purpose the consent was for, from now on (art. 7(3)).',
  },
};

/** Request ids are `req-<uuid>`: the first twelve characters tell them apart on screen, the title holds the rest. */
export const shortId = (id) => id.slice(0, 12);

/** Subject references typed on this page, by request id: kept in memory only, never stored in the browser. */
const refsByRequest = new Map();

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The tenant user's form for a new request: the subject's reference and the kind. */
export function fileForm({ api, act }) {
  const ref = h('input', {
    id: 'request-subject',
    name: 'subjectRef',
    required: true,
    placeholder: 'e.g. customer number',
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
export function requestActions(r, panelRow, { api, act }) {
  const open = (content) => {
    panelRow.firstChild.replaceChildren(content);
    panelRow.hidden = false;
    panelRow.querySelector('input')?.focus();
  };
  const buttons = [];
  const how = CARRY_OUT[r.kind];
  if (how) {
    buttons.push(
      h(
        'button',
        {
          type: 'button',
          class: `small ${how.danger ? 'danger' : 'primary'}`,
          dataset: { action: 'carry-out', request: r.id },
          onclick: () => {
            const ref = h('input', {
              name: 'subjectRef',
              value: refsByRequest.get(r.id) ?? '',
              required: true,
              placeholder: 'subject reference',
              autocomplete: 'off',
            });
            const purpose = h('input', {
              name: 'purpose',
              required: true,
              placeholder: 'e.g. operator_statistics',
            });
            open(
              h(
                'form',
                {
                  class: 'inline-form',
                  dataset: { form: 'carry-out' },
                  onsubmit: (e) => {
                    e.preventDefault();
                    act(how.label, async () => {
                      const body = {
                        requestId: r.id,
                        ...(how.purpose ? { purpose: purpose.value.trim() } : {}),
                      };
                      const result = await api.carryOut(ref.value.trim(), how.path, body);
                      if (r.kind !== 'erasure')
                        return `${how.label}: done; request ${shortId(r.id)} is answered.`;
                      saveBlob(
                        new Blob([JSON.stringify(result, null, 2)], { type: 'application/json' }),
                        `erasure-receipt-${r.id}.json`,
                      );
                      const d = result.deleted ?? {};
                      const kept = result.kept?.length ?? 0;
                      return `Erased ${plural(d.before?.points ?? 0, 'reading')} of ${plural(d.devices?.length ?? 0, 'device')}; ${kept ? `${plural(kept, 'item')} kept by law` : 'nothing kept'}. Receipt downloaded.`;
                    });
                  },
                },
                h('label', { class: 'field' }, h('span', null, 'Subject reference'), ref),
                how.purpose ? h('label', { class: 'field' }, h('span', null, 'Purpose'), purpose) : null,
                h('button', { type: 'submit', class: how.danger ? 'danger' : 'primary' }, how.label),
                h('p', { class: 'fine-print' }, how.note),
              ),
            );
          },
        },
        how.label,
      ),
    );
  }
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
                      return `Export downloaded; request ${shortId(r.id)} is done.`;
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
                    return `Request ${shortId(r.id)} marked done.`;
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

/**
 * Art. 28(3)(g): the tenant admin takes all of the tenant's data back (raw identifiers and restricted
 * subjects included: it is the controller's own). The DPO's role has no `tenant:export` scope.
 */
export function tenantExportCard({ api, act }) {
  const download = (format) =>
    h(
      'button',
      {
        type: 'button',
        class: 'small',
        dataset: { action: 'tenant-export', format },
        onclick: () =>
          act('The export', async () => {
            const res = await api.exportTenant(format);
            saveBlob(await res.blob(), `tenant-export.${format}`);
            return `All of your tenant’s data downloaded (${format.toUpperCase()}).`;
          }),
      },
      format === 'json' ? 'Download JSON' : 'Download CSV',
    );
  return card(
    'All of your data',
    'art. 28(3)(g)',
    h(
      'p',
      null,
      'Every reading of every device, with your own identifiers: what you take back when a contract ends. ',
      h('span', { class: 'actions' }, download('json'), download('csv')),
    ),
  );
}
