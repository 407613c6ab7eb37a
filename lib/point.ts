/**
 * A telemetry point as it leaves ingest: already pseudonymised, tagged and
 * routed to one tenant. Nothing in a Point may be a raw identifier.
 */
export type FieldValue = number | string | boolean;

export interface Point {
  /** InfluxDB measurement: the device kind (`heat_meter`, `sim_unit`, `building_sensor`). */
  measurement: string;
  /** Indexed tags: device pseudonym, role, purpose, legal basis, … */
  tags: Record<string, string>;
  /** Values. Integers are marked by `integerFields` so line protocol writes them with an `i` suffix. */
  fields: Record<string, FieldValue>;
  /** Names of fields in `fields` that are integers (counters, bytes). */
  integerFields?: readonly string[];
  /** Milliseconds since the epoch. */
  timestampMs: number;
}

/** A batch bound for one tenant's database. */
export interface TenantBatch {
  tenantId: string;
  points: Point[];
}
