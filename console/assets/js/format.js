/**
 * How the console writes times and numbers: 24-hour clock and day-month-year
 * dates (what Danish and Swedish readers expect, in English words), the
 * browser's own time zone, and a unit after every measured value.
 */

const dateTime = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric',
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});
const dateOnly = new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'short', day: '2-digit' });
const number = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2 });
const integer = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

const toDate = (v) => (v instanceof Date ? v : new Date(v));
const valid = (d) => !Number.isNaN(d.getTime());

export const fmtDateTime = (v) => (v ? (valid(toDate(v)) ? dateTime.format(toDate(v)) : String(v)) : '—');
export const fmtDate = (v) => {
  if (!v) return '—';
  // A bare YYYY-MM-DD is a calendar day, not midnight UTC shifted into the local zone.
  const d = /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T12:00:00`) : toDate(v);
  return valid(d) ? dateOnly.format(d) : String(v);
};
export const fmtNumber = (v) => (v === null || v === undefined || Number.isNaN(v) ? '—' : number.format(v));
export const fmtInt = (v) => (v === null || v === undefined ? '—' : integer.format(v));

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${number.format(v)} ${units[i]}`;
}

/** "3 min ago", "in 12 days": for last-seen and due dates. */
export function fmtRelative(v, now = Date.now()) {
  if (!v) return '—';
  const ms = toDate(v).getTime() - now;
  const abs = Math.abs(ms);
  const [n, unit] =
    abs < 90_000
      ? [Math.round(abs / 1000), 's']
      : abs < 90 * 60_000
        ? [Math.round(abs / 60_000), 'min']
        : abs < 36 * 3_600_000
          ? [Math.round(abs / 3_600_000), 'h']
          : [Math.round(abs / 86_400_000), abs < 1.5 * 86_400_000 ? 'day' : 'days'];
  return ms < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

/** Whole days from now to `v` (negative when past). */
export const daysUntil = (v, now = Date.now()) => Math.ceil((toDate(v).getTime() - now) / 86_400_000);

export const kindLabel = (kind) =>
  ({ heat_meter: 'Heat meters', sim_unit: 'SIM units', building_sensor: 'Building sensors' })[kind] ?? kind;

export const requestKindLabel = (kind) =>
  ({
    access: 'Access (art. 15)',
    portability: 'Portability (art. 20)',
    erasure: 'Erasure (art. 17)',
    restriction: 'Restriction (art. 18)',
    restriction_lift: 'Lift restriction (art. 18(3))',
    objection: 'Objection (art. 21)',
    consent_withdrawal: 'Consent withdrawal (art. 7(3))',
    rectification: 'Rectification (art. 16)',
  })[kind] ?? kind;

/** "1 device", "3 devices". */
export const plural = (n, word) => `${integer.format(n)} ${word}${n === 1 ? '' : 's'}`;

/** Why a message was refused, in words (broker/broker.ts and ingest/ingest.ts name the reasons). */
export const rejectionLabel = (reason) =>
  ({
    json: 'Malformed JSON',
    not_object: 'Not a JSON object',
    schema: 'Wrong fields or values for its kind',
    store_refused: 'Refused by the time-series store',
    forbidden_topic: 'Published to a topic not its own',
    connect_missing_credentials: 'Connected without credentials',
    connect_unknown_device: 'Unknown device tried to connect',
    connect_bad_secret: 'Wrong device secret',
    connect_disabled: 'Disabled device tried to connect',
    connect_registry_error: 'Registry unavailable at connect',
  })[reason] ?? reason;

/** A pseudonym is long; the first characters tell devices apart on screen, the title holds the rest. */
export const shortPseudonym = (p) => (p && p.length > 18 ? `${p.slice(0, 16)}…` : (p ?? '—'));
