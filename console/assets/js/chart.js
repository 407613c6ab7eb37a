import uPlot from '/console/assets/vendor/uPlot.esm.js';
import { fmtDateTime, fmtNumber, shortPseudonym } from './format.js';

const PALETTE = [
  '#0f7b8a',
  '#d1495b',
  '#edae49',
  '#3d5a80',
  '#66a182',
  '#8e6c8a',
  '#e07a5f',
  '#2a9d8f',
  '#6d597a',
  '#457b9d',
];

const pad = (n) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Axis ticks on a 24-hour clock; the day is added once the range spans more than a day. */
function timeTicks(_u, splits, _axisIdx, _space, incr) {
  return splits.map((s) => {
    const d = new Date(s * 1000);
    const day = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
    if (incr >= 86_400) return day;
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    const clock = incr < 60 ? `${hm}:${pad(d.getSeconds())}` : hm;
    return d.getHours() === 0 && d.getMinutes() === 0 && incr >= 3600 ? `${day}\n${clock}` : clock;
  });
}

/**
 * Aligns the series on one time axis, as uPlot wants: [xs (seconds), ys per series], with null where a
 * series has no point at a time.
 */
export function align(series) {
  const times = new Set();
  for (const s of series) for (const [t] of s.points) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const y = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) y[index.get(t)] = v;
    return bridgeShortGaps(xs, y);
  });
  return [xs.map((t) => t / 1000), ...ys];
}

/**
 * A device that reports every 30 s leaves empty 10 s windows between its readings: those are drawn as a
 * line (uPlot spans `undefined`). A gap longer than three of its usual intervals stays a gap (`null`):
 * a device that went silent shows as one.
 */
function bridgeShortGaps(xs, y) {
  const present = [];
  for (let i = 0; i < y.length; i++) if (y[i] !== null) present.push(i);
  if (present.length < 3) return y;
  const steps = present.slice(1).map((i, k) => xs[i] - xs[present[k]]);
  const usual = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)];
  for (let k = 1; k < present.length; k++) {
    const [a, b] = [present[k - 1], present[k]];
    if (xs[b] - xs[a] <= 3 * usual) for (let i = a + 1; i < b; i++) y[i] = undefined;
  }
  return y;
}

/**
 * A line chart of `{series: [{device, points: [[epochMs, value|null], ...]}]}` in `el`.
 * `update` replaces the data; the chart is rebuilt only when the set of series changes.
 */
export function createChart(el, { unit = '', height = 280, label = shortPseudonym } = {}) {
  let plot = null;
  let keys = '';
  // The time range asked for, in seconds: the axis spans it even where the data does not.
  let span = null;
  const observer = new ResizeObserver(() => plot?.setSize({ width: el.clientWidth, height }));
  observer.observe(el);

  function build(data) {
    plot?.destroy();
    const opts = {
      width: Math.max(el.clientWidth, 320),
      height,
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      scales: { x: { time: true, range: (_u, min, max) => span ?? [min, max] } },
      axes: [
        { values: timeTicks, stroke: '#5d6b7c', grid: { stroke: '#eef1f5' }, ticks: { stroke: '#e2e7ee' } },
        {
          label: unit || undefined,
          stroke: '#5d6b7c',
          grid: { stroke: '#eef1f5' },
          ticks: { stroke: '#e2e7ee' },
          size: 64,
          values: (_u, splits) => splits.map((v) => fmtNumber(v)),
        },
      ],
      series: [
        { label: 'Time', value: (_u, v) => (v === null ? '—' : fmtDateTime(v * 1000)) },
        ...data.series.map((s, i) => ({
          label: label(s.device),
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: false,
          // Sparse series (a reading every minute, a fine window) would draw nothing between gaps: show their points.
          points: { size: 6, show: (u, si) => u.data[si].filter((v) => v != null).length <= 200 },
          value: (_u, v) =>
            v === null || v === undefined ? '—' : `${fmtNumber(v)}${unit ? ` ${unit}` : ''}`,
        })),
      ],
    };
    plot = new uPlot(opts, align(data.series), el);
  }

  return {
    /** `range`: [fromMs, toMs] the x axis spans; without it, the data's own. */
    update(data, range) {
      span = range ? [range[0] / 1000, range[1] / 1000] : null;
      const next = data.series.map((s) => s.device).join('\n');
      if (!plot || next !== keys) {
        keys = next;
        build(data);
      } else {
        plot.setData(align(data.series));
      }
    },
    destroy() {
      observer.disconnect();
      plot?.destroy();
      plot = null;
    },
  };
}
