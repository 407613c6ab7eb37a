import type { FieldValue, Point } from '../lib/point.ts';
import { TENANT_ID } from '../store/influx-v1.ts';
import { encodePoint } from '../store/line-protocol.ts';
import { decodeLine, type LineRecord, writeLineRecord } from './line-record.ts';

/**
 * The record Skjold puts on the Kafka topic: one pseudonymised point as a
 * line record (line-record.ts) — the tenant whose database it belongs in, and
 * the point's line protocol, the bytes the store writers send InfluxDB as they
 * are. It is built from a Point, which ingest produces only after
 * pseudonymisation, so no raw identifier can reach Kafka (art. 25: data
 * protection by design; art. 32(1)(a)).
 * Key: the device pseudonym, so one device's points stay in order on one partition.
 *
 * Records of the JSON format before it (`{"v":1,…}`, `JsonRecord`) are still
 * read, so writers can be upgraded before ingest and a topic written by an
 * earlier version drains.
 */
export interface KafkaRecord {
  key: string;
  value: Buffer;
}

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

/** Where records are written before they are copied out at their size; grown for a larger point. */
let scratch = Buffer.allocUnsafe(16 * 1024);

export function encodeRecord(tenantId: string, point: Point): KafkaRecord {
  let end = writeLineRecord(scratch, 0, tenantId, point);
  while (end < 0) {
    scratch = Buffer.allocUnsafe(scratch.length * 2);
    end = writeLineRecord(scratch, 0, tenantId, point);
  }
  return { key: point.tags.device ?? tenantId, value: Buffer.from(scratch.subarray(0, end)) };
}

const CR = 0x0d;
const LF = 0x0a;
const isDigit = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x39;

/**
 * The tenant and the line of a record, or undefined when the bytes are not a
 * record Skjold wrote: a line record must name a tenant id the store takes
 * and hold one line (Skjold never writes a newline or carriage return in
 * one) ending in its timestamp. A record of the JSON format is made into its line here.
 */
export function decodeRecord(value: Buffer | null): LineRecord | undefined {
  if (!value || value.length === 0) return undefined;
  if (value[0] === 0x7b) return fromJson(value); // '{'
  const record = decodeLine(value);
  if (!record || !TENANT_ID.test(record.tenantId)) return undefined;
  const { line } = record;
  if (!isDigit(line[line.length - 1]) || line.indexOf(LF) >= 0 || line.indexOf(CR) >= 0) return undefined;
  return record;
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
