import type { FieldValue, Point } from '../lib/point.ts';

/**
 * The record Skjold puts on the Kafka topic: one pseudonymised point and the
 * tenant whose database it belongs in, as compact JSON. It is built from a
 * Point, which ingest produces only after pseudonymisation, so no raw
 * identifier can reach Kafka (art. 25: data protection by design; art. 32(1)(a)).
 * Key: the device pseudonym, so one device's points stay in order on one partition.
 */
export interface KafkaRecord {
  /** Format version. */
  v: 1;
  tenant: string;
  m: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** Integer field names, when any. */
  int?: readonly string[];
  /** Device timestamp, ms since the epoch: with measurement and tags, the point's identity in InfluxDB. */
  ts: number;
}

export function encodeRecord(tenantId: string, point: Point): { key: string; value: string } {
  const record: KafkaRecord = {
    v: 1,
    tenant: tenantId,
    m: point.measurement,
    tags: point.tags,
    fields: point.fields,
    ...(point.integerFields && point.integerFields.length > 0 ? { int: point.integerFields } : {}),
    ts: point.timestampMs,
  };
  return { key: point.tags.device ?? tenantId, value: JSON.stringify(record) };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The tenant and point in a record, or undefined when the bytes are not a record Skjold wrote. */
export function decodeRecord(value: Buffer | null): { tenantId: string; point: Point } | undefined {
  if (!value) return undefined;
  let r: unknown;
  try {
    r = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(r) || r.v !== 1) return undefined;
  const { tenant, m, tags, fields, int, ts } = r;
  if (typeof tenant !== 'string' || typeof m !== 'string' || typeof ts !== 'number') return undefined;
  if (!isObject(tags) || !Object.values(tags).every((t) => typeof t === 'string')) return undefined;
  if (!isObject(fields)) return undefined;
  if (!Object.values(fields).every((f) => ['number', 'string', 'boolean'].includes(typeof f)))
    return undefined;
  if (int !== undefined && !(Array.isArray(int) && int.every((f) => typeof f === 'string'))) return undefined;
  return {
    tenantId: tenant,
    point: {
      measurement: m,
      tags: tags as Record<string, string>,
      fields: fields as Record<string, FieldValue>,
      ...(int ? { integerFields: int as string[] } : {}),
      timestampMs: ts,
    },
  };
}
