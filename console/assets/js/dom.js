/** Building the page without innerHTML: every value shown is text, never markup. */

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Replaces `el`'s children; null, undefined and false are skipped (replaceChildren would print them). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function card(title, note, ...body) {
  return h(
    'section',
    { class: 'card' },
    h('header', null, h('h2', null, title), note ? h('span', { class: 'muted' }, note) : null),
    ...body,
  );
}

export function empty(title, text) {
  return h('div', { class: 'empty' }, h('strong', null, title), text ?? null);
}

/**
 * A table from rows; `columns` are {label, value: row -> text|Node, num?}.
 * No rows: the empty state instead of an empty grid.
 */
export function table(columns, rows, emptyState, rowClass) {
  if (!rows || rows.length === 0) return emptyState;
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((r) =>
          h(
            'tr',
            { class: rowClass?.(r) ?? null },
            columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.value(r))),
          ),
        ),
      ),
    ),
  );
}

export function kpi(label, value, unit, sub) {
  return h(
    'div',
    { class: 'kpi' },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value, unit ? h('small', null, unit) : null),
    sub ? h('div', { class: 'sub' }, sub) : null,
  );
}

export const pill = (text, tone) => h('span', { class: `pill ${tone ?? ''}` }, text);

export function select(options, value, attrs) {
  return h(
    'select',
    attrs,
    options.map((o) => {
      const opt = typeof o === 'string' ? { value: o, label: o } : o;
      return h('option', { value: opt.value, selected: opt.value === value }, opt.label);
    }),
  );
}
