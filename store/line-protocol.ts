/**
 * Points → InfluxDB 1.x line protocol, millisecond precision (write with
 * `precision=ms`). On the hot path (~20k points/s): each name or value costs
 * one regex test when it needs no escaping, which is nearly always.
 *
 * Escaping follows influxdb 1.6 `models/points.go`: measurement escapes comma
 * and space; tag keys, tag values and field keys escape comma, equals and
 * space; string field values escape double quote and backslash. A backslash
 * in a tag key or value is literal, so one ending in a backslash cannot be
 * written (the parser would read the separator after it as escaped). In the
 * measurement and field keys a backslash is worse: influxd's scanners take it
 * as escaping the next character while its unescapers do not: field key
 * `f\,g`, sent as `f\\,g`, splits the field, and measurement `m\"` is stored
 * as `m"` (found against influxd 1.6.7 by the store contract's property test). Line breaks have no escape outside
 * string values. Points with such names are rejected, never mangled.
 */
import type { Point } from '../lib/point.ts';
import { StoreError } from './store-error.ts';

const MEASUREMENT_SPECIAL = /[, \\\n\r]/;
const MEASUREMENT_ESCAPE = /[, ]/g;
const KEY_SPECIAL = /[,= \\\n\r]/;
const KEY_ESCAPE = /[,= ]/g;
const STRING_SPECIAL = /["\\]/;
const STRING_ESCAPE = /["\\]/g;
const UNWRITABLE = /[\n\r]|\\$/;
const NO_BACKSLASH_UNWRITABLE = /[\n\r\\]/;

// int64 bounds as doubles: 2^63 is the first value out of range.
const INT64_MAX_EXCLUSIVE = 2 ** 63;
const INT64_MIN = -(2 ** 63);

function reject(point: Point, detail: string): never {
  // Names only, never values: a message must not carry data.
  throw new StoreError('SKJOLD_ERR_STORE_WRITE', `cannot encode point of ${point.measurement}: ${detail}`, {
    retryable: false,
  });
}

function checkWritable(point: Point, name: string, what: string): void {
  if (name === '') reject(point, `empty ${what}`);
  if (UNWRITABLE.test(name)) reject(point, `${what} has a line break or ends with a backslash`);
}

function escapeKey(point: Point, name: string, what: string): string {
  if (name !== '' && !KEY_SPECIAL.test(name)) return name;
  checkWritable(point, name, what);
  return name.replace(KEY_ESCAPE, '\\$&');
}

function escapeFieldKey(point: Point, name: string): string {
  if (name !== '' && !KEY_SPECIAL.test(name)) return name;
  if (NO_BACKSLASH_UNWRITABLE.test(name)) reject(point, 'field key has a line break or a backslash');
  return escapeKey(point, name, 'field key');
}

function escapeMeasurement(point: Point): string {
  const name = point.measurement;
  // A line starting with '#' is a comment.
  if (name !== '' && name.charCodeAt(0) !== 35 && !MEASUREMENT_SPECIAL.test(name)) return name;
  if (name === '') reject(point, 'empty measurement');
  if (name.charCodeAt(0) === 35) reject(point, 'measurement starts with #');
  if (NO_BACKSLASH_UNWRITABLE.test(name)) reject(point, 'measurement has a line break or a backslash');
  return name.replace(MEASUREMENT_ESCAPE, '\\$&');
}

function encodeTags(point: Point): string {
  const tags = point.tags;
  const keys = Object.keys(tags);
  // InfluxDB's series key has tags sorted by key; sending them sorted spares it the work.
  if (keys.length > 1) keys.sort();
  let out = '';
  for (const key of keys) {
    const value = tags[key];
    // An empty tag value means "no tag" to InfluxDB, and `k=` is a parse error.
    if (value === undefined || value === '') continue;
    out += `,${escapeKey(point, key, 'tag key')}=${escapeKey(point, value, 'tag value')}`;
  }
  return out;
}

/** The field's line-protocol value, or undefined when it cannot be stored and is dropped. */
function encodeValue(value: unknown, isInteger: boolean): string | undefined {
  switch (typeof value) {
    case 'number':
      if (isInteger) {
        // Not an int64 (NaN, ±Infinity, a fraction, out of range): dropped like NaN, never rounded.
        if (!Number.isInteger(value) || value >= INT64_MAX_EXCLUSIVE || value < INT64_MIN) return undefined;
        return `${value}i`;
      }
      return Number.isFinite(value) ? String(value) : undefined;
    case 'string':
      return STRING_SPECIAL.test(value) ? `"${value.replace(STRING_ESCAPE, '\\$&')}"` : `"${value}"`;
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return undefined;
  }
}

const NO_FIELDS = 'no storable fields (NaN, Infinity or non-integer values are dropped)';

function encodeFields(point: Point): string {
  const integers = point.integerFields;
  let out = '';
  for (const key in point.fields) {
    const encoded = encodeValue(point.fields[key], integers?.includes(key) === true);
    if (encoded === undefined) continue;
    out += `${out === '' ? '' : ','}${escapeFieldKey(point, key)}=${encoded}`;
  }
  if (out === '') reject(point, NO_FIELDS);
  return out;
}

/**
 * Measurement and tags as line protocol, kept per tags object when it is
 * frozen (so it cannot change under the cache): a device's tags are built
 * once, at authentication, and every point it sends shares them.
 */
interface Series {
  measurement: string;
  series: string;
  /** `series` as UTF-8, made on the first `writePoint` of these tags. */
  bytes?: Buffer;
}
const seriesCache = new WeakMap<object, Series>();

function seriesOf(point: Point): Series {
  const { tags, measurement } = point;
  const frozen = Object.isFrozen(tags);
  if (frozen) {
    const hit = seriesCache.get(tags);
    if (hit?.measurement === measurement) return hit;
  }
  const series: Series = { measurement, series: `${escapeMeasurement(point)}${encodeTags(point)}` };
  if (frozen) seriesCache.set(tags, series);
  return series;
}

const encodeSeries = (point: Point): string => seriesOf(point).series;

/** One point as a line (no trailing newline). Throws a non-retryable StoreError for a point that cannot be written. */
export function encodePoint(point: Point): string {
  const ts = point.timestampMs;
  if (!Number.isFinite(ts)) reject(point, 'timestamp is not a finite number');
  return `${encodeSeries(point)} ${encodeFields(point)} ${Math.trunc(ts)}`;
}

/**
 * `text` as UTF-8 into `buf` from `at`; where it ends, or -1 when `buf` cannot
 * hold it. ASCII, nearly all of it, is copied a character at a time:
 * cheaper for a few bytes than a call into the runtime.
 */
function writeText(buf: Buffer, at: number, text: string): number {
  const n = text.length;
  if (at + n > buf.length) return -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      const bytes = Buffer.byteLength(text);
      return at + bytes > buf.length ? -1 : at + buf.write(text, at, bytes, 'utf8');
    }
    buf[at + i] = c;
  }
  return at + n;
}

const SPACE = 0x20;
const COMMA = 0x2c;
const EQUALS = 0x3d;

/**
 * One point's line (no newline) written into `buf` from `at`, byte for byte
 * what `Buffer.from(encodePoint(point))` holds, without building the line as
 * a string first: the spool frames ~25,000 points a second this way. Returns
 * where the line ends, or -1 when `buf` cannot hold it (what was written
 * after `at` is then meaningless). Throws as `encodePoint` does.
 */
export function writePoint(point: Point, buf: Buffer, at: number): number {
  const ts = point.timestampMs;
  if (!Number.isFinite(ts)) reject(point, 'timestamp is not a finite number');
  const series = seriesOf(point);
  series.bytes ??= Buffer.from(series.series);
  const seriesBytes = series.bytes;
  if (at + seriesBytes.length + 1 > buf.length) return -1;
  buf.set(seriesBytes, at);
  let pos = at + seriesBytes.length;
  buf[pos++] = SPACE;
  const fieldsStart = pos;
  const integers = point.integerFields;
  for (const key in point.fields) {
    const encoded = encodeValue(point.fields[key], integers?.includes(key) === true);
    if (encoded === undefined) continue;
    if (pos !== fieldsStart) {
      if (pos >= buf.length) return -1;
      buf[pos++] = COMMA;
    }
    pos = writeText(buf, pos, escapeFieldKey(point, key));
    if (pos < 0 || pos >= buf.length) return -1;
    buf[pos++] = EQUALS;
    pos = writeText(buf, pos, encoded);
    if (pos < 0) return -1;
  }
  if (pos === fieldsStart) reject(point, NO_FIELDS);
  if (pos >= buf.length) return -1;
  buf[pos++] = SPACE;
  return writeText(buf, pos, String(Math.trunc(ts)));
}

/** A write body: one line per point. Throws on the first point that cannot be written. */
export function encodePoints(points: readonly Point[]): string {
  let out = '';
  for (let i = 0; i < points.length; i++) {
    out += i === 0 ? encodePoint(points[i]!) : `\n${encodePoint(points[i]!)}`;
  }
  return out;
}

const NEWLINE = 0x0a;

/** Bytes of `lines` joined by newlines. */
export function joinedBytes(lines: readonly Buffer[]): number {
  let bytes = lines.length > 0 ? lines.length - 1 : 0;
  for (const line of lines) bytes += line.length;
  return bytes;
}

/** Copies `lines` into `buf` from `at`, a newline between each two (`buf` holds `joinedBytes`); where they end. */
export function joinLinesInto(lines: readonly Buffer[], buf: Buffer, at: number): number {
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) buf[at++] = NEWLINE;
    at += (lines[i] as Buffer).copy(buf, at);
  }
  return at;
}

/** A write body from lines already encoded (each without its newline): one copy, no re-encoding. */
export function joinLines(lines: readonly Buffer[]): Buffer {
  const body = Buffer.allocUnsafe(joinedBytes(lines));
  joinLinesInto(lines, body, 0);
  return body;
}
