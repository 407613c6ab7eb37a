import { createChart } from '../chart.js';
import { card, empty, fill, h, select } from '../dom.js';
import { fmtDateTime, kindLabel, shortPseudonym, timeZone } from '../format.js';

const RANGES = [
  { value: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { value: '1h', label: 'Last hour', ms: 3_600_000 },
  { value: '6h', label: 'Last 6 hours', ms: 6 * 3_600_000 },
  { value: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { value: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
  { value: 'custom', label: 'From … to …' },
];
const WINDOWS = [
  { value: '', label: 'Automatic' },
  { value: '10s', label: '10 seconds' },
  { value: '1m', label: '1 minute' },
  { value: '5m', label: '5 minutes' },
  { value: '15m', label: '15 minutes' },
  { value: '1h', label: '1 hour' },
  { value: '1d', label: '1 day' },
];
const AGGS = ['mean', 'min', 'max', 'sum', 'last'];
/** Live mode asks again this often: the simulator sends a reading every few seconds. */
export const LIVE_POLL_MS = 3000;
/** With nothing picked, a chart shows this many devices at most: more lines are not readable (and the API takes 200). */
const DEFAULT_SERIES = 20;

const pad = (n) => String(n).padStart(2, '0');
/** A date as a datetime-local input shows it: the browser's local time, to the minute. */
const localInput = (d) =>
  `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;

const multiValues = (sel) => [...sel.selectedOptions].map((o) => o.value).filter(Boolean);

/**
 * The telemetry explorer: one tenant, one device kind, one or more numeric
 * fields (a chart each), devices picked by pseudonym or by group, a time
 * range and an aggregation window. Restricted subjects' devices (art. 18)
 * never reach the browser: the API leaves them out of both lists and series.
 */
export async function render(ctx) {
  const { api, tenant, params, el } = ctx;
  if (!tenant) {
    el.replaceChildren(
      card(
        'Telemetry',
        null,
        empty('No tenant yet.', 'Register a tenant and its devices; their readings appear here.'),
      ),
    );
    return;
  }
  const fieldsByKind = await api.fields();
  const kinds = Object.keys(fieldsByKind);
  const state = {
    kind: kinds.includes(params.get('kind')) ? params.get('kind') : kinds[0],
    fields: (params.get('fields') ?? '').split(',').filter(Boolean),
    devices: (params.get('devices') ?? '').split(',').filter(Boolean),
    group: params.get('group') ?? '',
    range: RANGES.some((r) => r.value === params.get('range')) ? params.get('range') : '1h',
    window: params.get('window') ?? '',
    agg: AGGS.includes(params.get('agg')) ? params.get('agg') : 'mean',
    live: params.get('live') !== '0',
    // A custom range, as the datetime-local inputs hold it (local time).
    from: params.get('from') ?? localInput(new Date(Date.now() - 86_400_000)),
    to: params.get('to') ?? localInput(new Date()),
  };
  let devices = [];
  let charts = [];
  let timer = null;
  let disposed = false;

  const kindSel = select(
    kinds.map((k) => ({ value: k, label: kindLabel(k) })),
    state.kind,
    { id: 'kind', name: 'kind' },
  );
  const fieldSel = h('select', { id: 'fields', name: 'fields', multiple: true, size: 5 });
  const deviceSel = h('select', { id: 'devices', name: 'devices', multiple: true, size: 5 });
  const groupSel = h('select', { id: 'group', name: 'group' });
  const rangeSel = select(RANGES, state.range, { id: 'range', name: 'range' });
  const windowSel = select(WINDOWS, state.window, { id: 'window', name: 'window' });
  const aggSel = select(
    AGGS.map((a) => ({ value: a, label: a })),
    state.agg,
    { id: 'agg', name: 'agg' },
  );
  const liveBox = h('input', { type: 'checkbox', id: 'live', checked: state.live });
  const fromInput = h('input', { type: 'datetime-local', id: 'from', name: 'from', value: state.from });
  const toInput = h('input', { type: 'datetime-local', id: 'to', name: 'to', value: state.to });
  const customRange = h('span', { class: 'toolbar' });
  const custom = () => state.range === 'custom';
  const showCustom = () => {
    customRange.hidden = !custom();
    // A fixed range does not move with the clock: nothing to follow live.
    liveBox.disabled = custom();
  };
  const status = h('span', { class: 'muted', id: 'telemetry-status' });
  const chartsEl = h('div', { class: 'grid', id: 'charts' });
  const deviceNote = h('small', { class: 'hint' });

  const field = (label, control, hint) =>
    h('label', { class: 'field' }, h('span', null, label), control, hint ?? null);

  function fillFields() {
    const list = fieldsByKind[state.kind] ?? [];
    state.fields = state.fields.filter((f) => list.some((x) => x.name === f));
    if (state.fields.length === 0 && list[0]) state.fields = [list[0].name];
    fieldSel.replaceChildren(
      ...list.map((f) =>
        h(
          'option',
          { value: f.name, selected: state.fields.includes(f.name) },
          f.unit ? `${f.name} (${f.unit})` : f.name,
        ),
      ),
    );
  }

  async function fillDevices() {
    devices = await api.devices(tenant, state.kind);
    state.devices = state.devices.filter((d) => devices.some((x) => x.device === d));
    deviceSel.replaceChildren(
      ...devices.map((d) =>
        h(
          'option',
          { value: d.device, title: d.device, selected: state.devices.includes(d.device) },
          `${shortPseudonym(d.device)}${d.group ? ` · ${d.group}` : ''}`,
        ),
      ),
    );
    const groups = [...new Set(devices.map((d) => d.group).filter(Boolean))].sort();
    if (!groups.includes(state.group)) state.group = '';
    groupSel.disabled = groups.length === 0;
    groupSel.replaceChildren(
      h('option', { value: '' }, groups.length ? 'No group: pick devices' : 'No groups registered'),
      ...groups.map((g) => h('option', { value: g, selected: g === state.group }, g)),
    );
    deviceSel.disabled = state.group !== '';
    deviceNote.textContent =
      devices.length > DEFAULT_SERIES
        ? `${devices.length} devices; none picked shows the first ${DEFAULT_SERIES}`
        : devices.length
          ? `${devices.length} device${devices.length === 1 ? '' : 's'}; none picked shows all`
          : '';
  }

  function saveParams() {
    ctx.setParams({
      kind: state.kind,
      fields: state.fields.join(','),
      ...(state.group ? { group: state.group } : { devices: state.devices.join(',') }),
      range: state.range,
      ...(custom() ? { from: state.from, to: state.to } : {}),
      ...(state.window ? { window: state.window } : {}),
      agg: state.agg,
      live: state.live && !custom() ? '1' : '0',
    });
  }

  const chosenDevices = () =>
    state.devices.length || devices.length <= DEFAULT_SERIES
      ? state.devices
      : devices.slice(0, DEFAULT_SERIES).map((d) => d.device);

  const unitOf = (name) => (fieldsByKind[state.kind] ?? []).find((f) => f.name === name)?.unit ?? '';

  function queryFor(name, format) {
    const ms = RANGES.find((r) => r.value === state.range)?.ms ?? 3_600_000;
    const to = custom() ? new Date(state.to) : new Date();
    const from = custom() ? new Date(state.from) : new Date(to.getTime() - ms);
    return {
      kind: state.kind,
      field: name,
      ...(state.group ? { group: state.group } : { devices: chosenDevices() }),
      from: from.toISOString(),
      to: to.toISOString(),
      window: state.window,
      agg: state.agg,
      ...(format ? { format } : {}),
    };
  }

  function csvHref(name) {
    const base = api.operator
      ? `/v1/tenants/${encodeURIComponent(tenant)}/telemetry`
      : '/tenant/v1/telemetry';
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(queryFor(name, 'csv'))) {
      const s = Array.isArray(v) ? v.join(',') : v;
      if (s) q.set(k, s);
    }
    return `${base}?${q}`;
  }

  function layoutCharts() {
    for (const c of charts) c.chart.destroy();
    charts = [];
    if (devices.length === 0) {
      chartsEl.replaceChildren(
        card(
          kindLabel(state.kind),
          null,
          empty(
            'No devices of this kind.',
            'Once devices of this kind are registered and send readings, they appear here.',
          ),
        ),
      );
      return;
    }
    chartsEl.replaceChildren(
      ...state.fields.map((name) => {
        const plotEl = h('div', { class: 'chart', dataset: { field: name } });
        const emptyEl = h(
          'div',
          { hidden: true },
          empty(
            'No readings in this range.',
            'Try a longer range, or check Fleet health for silent devices.',
          ),
        );
        const note = h('span', { class: 'muted' });
        const link = h('a', { href: csvHref(name), download: `${state.kind}-${name}.csv` }, 'CSV');
        charts.push({
          name,
          plotEl,
          emptyEl,
          note,
          link,
          chart: createChart(plotEl, { unit: unitOf(name) }),
        });
        const unit = unitOf(name);
        return h(
          'section',
          { class: 'card chart-card', dataset: { field: name } },
          h(
            'header',
            null,
            h('h2', null, name, unit ? h('span', { class: 'muted' }, ` (${unit})`) : null),
            h('span', { class: 'actions' }, note, link),
          ),
          plotEl,
          emptyEl,
        );
      }),
    );
  }

  async function refresh() {
    const results = await Promise.all(charts.map((c) => api.telemetry(tenant, queryFor(c.name))));
    if (disposed) return;
    results.forEach((data, i) => {
      const c = charts[i];
      const points = data.series.reduce((n, s) => n + s.points.filter(([, v]) => v !== null).length, 0);
      c.plotEl.hidden = points === 0;
      c.emptyEl.hidden = points !== 0;
      if (points > 0) c.chart.update(data, [Date.parse(data.from), Date.parse(data.to)]);
      c.note.textContent = `${data.agg} per ${data.window} · ${data.series.length} device${data.series.length === 1 ? '' : 's'}`;
      c.link.href = csvHref(c.name);
      // What the chart holds, for a glance in the inspector (and for the browser tests).
      c.plotEl.dataset.points = String(points);
      const values = data.series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => v !== null);
      c.plotEl.dataset.max = values.length ? String(Math.max(...values)) : '';
    });
    const live = state.live && !custom();
    status.replaceChildren(
      live ? h('span', { class: 'live-dot', 'aria-hidden': 'true' }) : '',
      `${live ? 'Live · ' : ''}updated ${fmtDateTime(new Date())} (${timeZone})`,
    );
  }

  function schedule() {
    clearTimeout(timer);
    if (!state.live || custom() || disposed) return;
    timer = setTimeout(async () => {
      try {
        // A console left open in a background tab does not keep querying InfluxDB.
        if (!document.hidden) await refresh();
      } catch (err) {
        ctx.flash(`Live update failed: ${err.message}`, 'error');
      }
      schedule();
    }, LIVE_POLL_MS);
  }

  async function reload({ devicesToo = false } = {}) {
    try {
      if (devicesToo) await fillDevices();
      saveParams();
      layoutCharts();
      if (devices.length > 0) await refresh();
      ctx.flash('');
    } catch (err) {
      ctx.flash(`Telemetry could not be loaded: ${err.message}`, 'error');
    }
    schedule();
  }

  kindSel.addEventListener('change', () => {
    state.kind = kindSel.value;
    state.devices = [];
    state.fields = [];
    fillFields();
    reload({ devicesToo: true });
  });
  fieldSel.addEventListener('change', () => {
    state.fields = multiValues(fieldSel);
    reload();
  });
  deviceSel.addEventListener('change', () => {
    state.devices = multiValues(deviceSel);
    reload();
  });
  groupSel.addEventListener('change', () => {
    state.group = groupSel.value;
    deviceSel.disabled = state.group !== '';
    reload();
  });
  for (const [sel, key] of [
    [rangeSel, 'range'],
    [windowSel, 'window'],
    [aggSel, 'agg'],
  ]) {
    sel.addEventListener('change', () => {
      state[key] = sel.value;
      showCustom();
      reload();
    });
  }
  for (const [input, key] of [
    [fromInput, 'from'],
    [toInput, 'to'],
  ]) {
    input.addEventListener('change', () => {
      if (!input.value) return;
      state[key] = input.value;
      if (new Date(state.from) >= new Date(state.to)) {
        ctx.flash('The range must start before it ends.', 'error');
        return;
      }
      reload();
    });
  }
  liveBox.addEventListener('change', () => {
    state.live = liveBox.checked;
    reload();
  });

  fillFields();
  showCustom();
  await fillDevices();
  if (!ctx.current()) return;
  el.replaceChildren(
    h(
      'section',
      { class: 'card' },
      h(
        'form',
        { class: 'explorer-form', id: 'telemetry-form', onsubmit: (e) => e.preventDefault() },
        // What to chart, then over which time and how aggregated.
        h(
          'div',
          { class: 'toolbar' },
          field('Device kind', kindSel),
          field('Fields', fieldSel),
          field('Devices', deviceSel, deviceNote),
          field('or a group', groupSel),
        ),
        h(
          'div',
          { class: 'toolbar' },
          field('Time range', rangeSel),
          fill(customRange, field('From', fromInput), field('To', toInput)),
          field('Aggregation window', windowSel),
          field('Aggregate', aggSel),
          h('label', { class: 'toggle' }, liveBox, 'Live'),
          h('span', { class: 'toolbar-status' }, status),
        ),
      ),
      h(
        'p',
        { class: 'fine-print' },
        'Devices are shown by pseudonym: the identifiers behind them stay with the tenant.',
      ),
    ),
    chartsEl,
  );
  await reload();
  return () => {
    disposed = true;
    clearTimeout(timer);
    for (const c of charts) c.chart.destroy();
  };
}
