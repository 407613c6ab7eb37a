import { SkjoldError } from '../lib/errors.ts';
import type { FieldValue, Point } from '../lib/point.ts';
import { TENANT_ID } from '../store/influx-v1.ts';
import { encodePoint, joinedBytes, joinLinesInto, writePoint } from '../store/line-protocol.ts';
import {
  decodeHeader,
  headerBytes,
  KIND_LINE,
  KIND_LINES,
  type LineRecord,
  writeHeader,
} from './line-record.ts';

/**
 * The records Skjold puts on the Kafka topic. Ingest queues each
 * pseudonymised point as its line protocol (`queuePoint`), and a produce
 * request packs a batch's points into one record per partition and tenant
 * (`packRecords`): kind 0x02 of line-record.ts, the tenant whose database
 * they belong in and their lines, the bytes the store writers send InfluxDB
 * as they are. A record per point cost the producer and the writers more
 * than the point itself (docs/kafka.md, Throughput). Points are built only
 * after pseudonymisation, so no raw identifier can reach Kafka (art. 25: data
 * protection by design; art. 32(1)(a)).
 *
 * A point's partition is its device pseudonym's, placed by murmur2 as the
 * Java client places keys, so one device's points stay in order on one
 * partition.
 *
 * Records of the formats before it are still read, so writers can be upgraded
 * before ingest and a topic written by an earlier version drains: a line
 * record of one point (kind 0x01), and JSON (`{"v":1,…}`, `JsonRecord`).
 */
export interface QueuedPoint {
  /** The device pseudonym, which places the point on its partition. */
  key: string;
  tenantId: string;
  line: Buffer;
}

/** A packed record: the partition it goes to, its bytes, and what it carries (whose senders its answer settles). */
export interface PackedRecord<J> {
  partition: number;
  value: Buffer;
  jobs: J[];
}

/**
 * Largest record packed, in bytes: far below what a broker takes in one
 * record batch (message.max.bytes, ~1 MB by default) and a consumer fetches
 * from one partition (1 MiB).
 */
export const MAX_RECORD_BYTES = 256 * 1024;

/** The JSON record of earlier versions. */
interface JsonRecord {
  v: 1;
  tenant: string;
  m: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** Integer field names, when any. */
  int?: readonly string[];
  /** Device timestamp, ms since the epoch. */
  ts: number;
}

/** Where lines are written before they are copied out at their size; grown for a larger point. */
let scratch = Buffer.allocUnsafe(16 * 1024);

/**
 * A point as ingest queues it for Kafka. Throws, as `encodePoint` does, for a
 * point the store could not take, and for a tenant id the writers would
 * refuse: that point's sender is told, not the batch it would have joined.
 */
export function queuePoint(tenantId: string, point: Point): QueuedPoint {
  if (!TENANT_ID.test(tenantId)) {
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'tenant id is not one the store takes');
  }
  let end = writePoint(point, scratch, 0);
  while (end < 0) {
    scratch = Buffer.allocUnsafe(scratch.length * 2);
    end = writePoint(point, scratch, 0);
  }
  return { key: point.tags.device ?? tenantId, tenantId, line: Buffer.from(scratch.subarray(0, end)) };
}

/**
 * Packs the points of a produce request into records: one per partition and
 * tenant (more when one would pass `maxBytes`), each point's lines in the
 * order they came, so a device's points stay in order.
 */
export function packRecords<J>(
  jobs: readonly J[],
  pointOf: (job: J) => QueuedPoint,
  partitionOf: (key: string) => number,
  maxBytes = MAX_RECORD_BYTES,
): PackedRecord<J>[] {
  interface Open {
    partition: number;
    tenantId: string;
    jobs: J[];
    lines: Buffer[];
    bytes: number;
  }
  const packed: PackedRecord<J>[] = [];
  const seal = (o: Open) => {
    const at = headerBytes(o.tenantId);
    const value = Buffer.allocUnsafe(at + joinedBytes(o.lines));
    writeHeader(value, 0, KIND_LINES, o.tenantId);
    joinLinesInto(o.lines, value, at);
    packed.push({ partition: o.partition, value, jobs: o.jobs });
  };
  const open = new Map<number, Map<string, Open>>();
  for (const job of jobs) {
    const { key, tenantId, line } = pointOf(job);
    const partition = partitionOf(key);
    let tenants = open.get(partition);
    if (!tenants) {
      tenants = new Map();
      open.set(partition, tenants);
    }
    let o = tenants.get(tenantId);
    if (o && o.bytes + 1 + line.length > maxBytes) {
      seal(o);
      o = undefined;
    }
    if (!o) {
      o = { partition, tenantId, jobs: [], lines: [], bytes: headerBytes(tenantId) - 1 };
      tenants.set(tenantId, o);
    }
    o.jobs.push(job);
    o.lines.push(line);
    o.bytes += 1 + line.length;
  }
  for (const tenants of open.values()) for (const o of tenants.values()) seal(o);
  return packed;
}

/** A record of the given points, as `packRecords` makes it (for tests and benchmarks). */
export function encodeRecord(tenantId: string, points: readonly Point[]): Buffer {
  const [record] = packRecords(
    points.map((p) => queuePoint(tenantId, p)),
    (q) => q,
    () => 0,
    Number.MAX_SAFE_INTEGER,
  );
  if (!record) throw new Error('a record holds at least one point');
  return record.value;
}

const CR = 0x0d;
const LF = 0x0a;
const isDigit = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x39;

/**
 * The tenant and lines of a record, or undefined when the bytes are not a
 * record Skjold wrote: a record must name a tenant id the store takes, and
 * each of its lines end in its timestamp (Skjold never writes a carriage
 * return, nor a newline inside a line). A record of the JSON format is made
 * into its line here.
 */
export function decodeRecord(value: Buffer | null): LineRecord[] | undefined {
  if (!value || value.length === 0) return undefined;
  if (value[0] === 0x7b) {
    const record = fromJson(value); // '{'
    return record && [record];
  }
  const kind = value[0] === KIND_LINE ? KIND_LINE : KIND_LINES;
  const record = decodeHeader(value, kind);
  if (!record || !TENANT_ID.test(record.tenantId)) return undefined;
  const { tenantId, line: body } = record;
  if (body.indexOf(CR) >= 0) return undefined;
  const lines: LineRecord[] = [];
  for (let start = 0; ; ) {
    const lf = body.indexOf(LF, start);
    const end = lf < 0 ? body.length : lf;
    if (!isDigit(body[end - 1]) || end === start) return undefined;
    lines.push({ tenantId, line: body.subarray(start, end) });
    if (lf < 0) break;
    start = lf + 1;
  }
  // A record of the version before holds one point.
  return kind === KIND_LINE && lines.length !== 1 ? undefined : lines;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function fromJson(value: Buffer): LineRecord | undefined {
  let r: unknown;
  try {
    r = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(r) || r.v !== 1) return undefined;
  const { tenant, m, tags, fields, int, ts } = r as Partial<JsonRecord> & Record<string, unknown>;
  if (typeof tenant !== 'string' || typeof m !== 'string' || typeof ts !== 'number') return undefined;
  if (!isObject(tags) || !Object.values(tags).every((t) => typeof t === 'string')) return undefined;
  if (!isObject(fields)) return undefined;
  if (!Object.values(fields).every((f) => ['number', 'string', 'boolean'].includes(typeof f)))
    return undefined;
  if (int !== undefined && !(Array.isArray(int) && int.every((f) => typeof f === 'string'))) return undefined;
  const point: Point = {
    measurement: m,
    tags,
    fields: fields as Record<string, FieldValue>,
    ...(int ? { integerFields: [...int] } : {}),
    timestampMs: ts,
  };
  try {
    return { tenantId: tenant, line: Buffer.from(encodePoint(point)) };
  } catch {
    return undefined; // a point InfluxDB could not take: counted as undecodable, like any other
  }
}
