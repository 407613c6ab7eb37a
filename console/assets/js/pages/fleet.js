import { createChart } from '../chart.js';
import { card, empty, fill, h, kpi, pill, table } from '../dom.js';
import {
  fmtBytes,
  fmtDateTime,
  fmtInt,
  fmtNumber,
  fmtRelative,
  kindLabel,
  rejectionLabel,
  shortPseudonym,
} from '../format.js';

/** Fleet health is a status board: it asks again this often. */
const REFRESH_MS = 10_000;
const HOUR_MS = 3_600_000;

const pseudonymCell = (p) =>
  p ? h('code', { title: p }, shortPseudonym(p)) : h('span', { class: 'muted' }, 'unknown device');

/**
 * Fleet health: devices by kind (connected or silent), the silent ones, the
 * message rate over the last hour, rejections by reason and by device, and
 * the store's state. Devices appear by pseudonym only.
 */
export async function render(ctx) {
  const { api, el } = ctx;
  const showTenant = api.operator && !ctx.tenant;
  const rateEl = h('div', { class: 'chart', id: 'rate-chart' });
  const rateChart = createChart(rateEl, { unit: 'msg/s', height: 220, label: (s) => s });
  const kpis = h('div', { class: 'kpis', id: 'fleet-kpis' });
  const byKind = h('div');
  const silent = h('div');
  const reasons = h('div');
  const rejectedDevices = h('div');
  const dropped = h('div');
  const updated = h('span', { class: 'muted' });
  const rateEmpty = h(
    'div',
    { hidden: true },
    empty('No messages in the last hour.', 'Readings from devices show up here within seconds.'),
  );
  let timer = null;
  let disposed = false;

  el.replaceChildren(
    kpis,
    h(
      'div',
      { class: 'grid grid-2' },
      card('Messages per second', 'last hour, 10 s steps', rateEl, rateEmpty),
      card('Devices by kind', null, byKind),
    ),
    h(
      'div',
      { class: 'grid grid-2' },
      card('Silent devices', 'no reading within their expected interval', silent),
      card('Rejections by reason', 'last hour', reasons),
    ),
    h(
      'div',
      { class: 'grid grid-2' },
      card('Rejections by device', 'devices that sent what ingest refused', rejectedDevices),
      card('Fields dropped at ingest', 'never stored (art. 5(1)(c))', dropped),
    ),
    h('p', { class: 'fine-print' }, updated),
  );

  async function load() {
    const f = await api.fleet(ctx.tenant ?? undefined);
    if (disposed) return;
    const rates = f.rates?.points ?? [];
    const now = rates.at(-1)?.[1];
    const rejected = (f.rejections?.byReason ?? []).reduce((n, r) => n + r.count, 0);
    const silentCount = (f.kinds ?? []).reduce((n, k) => n + k.silent, 0);
    const deviceCount = (f.kinds ?? []).reduce((n, k) => n + k.devices, 0);
    fill(
      kpis,
      kpi(
        'Time-series store',
        f.store?.up ? pill('Up', 'ok') : pill('Down', 'bad'),
        null,
        f.store?.up ? 'InfluxDB answers' : 'readings wait in the spool',
      ),
      kpi(
        'Write latency',
        fmtNumber(f.store?.writeLatencyMs?.p50),
        'ms',
        `p99 ${fmtNumber(f.store?.writeLatencyMs?.p99)} ms`,
      ),
      kpi('Messages now', fmtNumber(now ?? 0), 'msg/s', 'last 10 s'),
      kpi(
        'Devices',
        fmtInt(deviceCount),
        null,
        silentCount ? `${fmtInt(silentCount)} silent` : 'all reporting',
      ),
      kpi('Rejected', fmtInt(rejected), null, 'messages, last hour'),
      f.spool
        ? kpi(
            'Spool backlog',
            fmtBytes(f.spool.backlogBytes),
            null,
            `${fmtInt(f.spool.backlogPoints)} points waiting for InfluxDB`,
          )
        : null,
    );
    const hasRate = rates.some(([, v]) => v);
    rateEl.hidden = !hasRate;
    rateEmpty.hidden = hasRate;
    if (hasRate) {
      rateChart.update(
        {
          series: [
            { device: 'accepted', points: rates },
            ...(f.rejections?.points?.length ? [{ device: 'rejected', points: f.rejections.points }] : []),
          ],
        },
        [Date.parse(f.at) - HOUR_MS, Date.parse(f.at)],
      );
    }
    byKind.replaceChildren(
      table(
        [
          ...(showTenant ? [{ label: 'Tenant', value: (r) => r.tenant }] : []),
          { label: 'Kind', value: (r) => kindLabel(r.kind) },
          { label: 'Devices', value: (r) => fmtInt(r.devices), num: true },
          { label: 'Connected', value: (r) => fmtInt(r.connected), num: true },
          { label: 'Silent', value: (r) => (r.silent ? pill(fmtInt(r.silent), 'warn') : '0'), num: true },
        ],
        f.kinds,
        empty('No devices registered.', 'Devices appear here once the operator registers them.'),
      ),
    );
    silent.replaceChildren(
      table(
        [
          ...(showTenant ? [{ label: 'Tenant', value: (r) => r.tenant }] : []),
          { label: 'Device', value: (r) => pseudonymCell(r.device) },
          { label: 'Kind', value: (r) => kindLabel(r.kind) },
          {
            label: 'Last seen',
            value: (r) =>
              r.lastSeen ? h('span', { title: fmtDateTime(r.lastSeen) }, fmtRelative(r.lastSeen)) : 'never',
          },
          { label: 'Expected every', value: (r) => `${fmtInt(r.expectedIntervalS)} s`, num: true },
        ],
        f.silent,
        empty('Every device is reporting.', null),
      ),
    );
    reasons.replaceChildren(
      table(
        [
          { label: 'Reason', value: (r) => h('span', { title: r.reason }, rejectionLabel(r.reason)) },
          { label: 'Messages', value: (r) => fmtInt(r.count), num: true },
        ],
        f.rejections?.byReason,
        empty('Nothing rejected.', 'Malformed or unauthorised messages are counted here by reason.'),
      ),
    );
    rejectedDevices.replaceChildren(
      table(
        [
          ...(showTenant ? [{ label: 'Tenant', value: (r) => r.tenant ?? '—' }] : []),
          { label: 'Device', value: (r) => pseudonymCell(r.device) },
          { label: 'Reason', value: (r) => h('span', { title: r.reason }, rejectionLabel(r.reason)) },
          { label: 'Messages', value: (r) => fmtInt(r.count), num: true },
        ],
        f.rejections?.devices,
        empty('No device had a message rejected.', null),
      ),
    );
    dropped.replaceChildren(
      table(
        [
          { label: 'What', value: (r) => r.reason },
          { label: 'Fields dropped', value: (r) => fmtInt(r.count), num: true },
        ],
        f.dropped?.fields,
        empty(
          'Nothing dropped.',
          'Fields a device sends beyond its schema are counted here and never stored.',
        ),
      ),
    );
    updated.textContent = `Updated ${fmtDateTime(f.at ?? new Date())}; refreshes every ${REFRESH_MS / 1000} s.`;
  }

  const loop = async () => {
    try {
      await load();
    } catch (err) {
      if (!disposed) ctx.flash(`Fleet health could not be loaded: ${err.message}`, 'error');
    }
    if (!disposed) timer = setTimeout(loop, REFRESH_MS);
  };
  await load();
  timer = setTimeout(loop, REFRESH_MS);
  return () => {
    disposed = true;
    clearTimeout(timer);
    rateChart.destroy();
  };
}
