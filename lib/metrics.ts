import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { talliedCounter } from './tallied-counter.ts';

/**
 * Every metric Skjold exports, built per instance so tests can run several.
 * Labels are low-cardinality words (kinds, reasons, tenants); never a device,
 * a pseudonym or an identifier.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'skjold_process_' });
  const registers = [registry];

  return {
    registry,
    mqttConnections: new Gauge({
      name: 'skjold_mqtt_connections',
      help: 'Authenticated MQTT connections open now',
      registers,
    }),
    mqttConnectRefused: new Counter({
      name: 'skjold_mqtt_connect_refused_total',
      help: 'MQTT connections refused, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    mqttDecommissionedClosed: new Counter({
      name: 'skjold_mqtt_decommissioned_closed_total',
      help: 'Live MQTT connections closed because their device was decommissioned',
      registers,
    }),
    mqttLimited: new Counter({
      name: 'skjold_mqtt_limit_enforced_total',
      help: 'Times a broker limit was enforced (packet size, connection rate, per-source rate, blocked source, device message rate)',
      labelNames: ['limit'] as const,
      registers,
    }),
    mqttSourcesBlocked: new Counter({
      name: 'skjold_mqtt_source_blocks_total',
      help: 'Times a source address was refused for a while after too many failed logins',
      registers,
    }),
    mqttSourcesTracked: new Gauge({
      name: 'skjold_mqtt_sources_tracked',
      help: 'Source addresses the per-source connection limits remember now (bounded by SKJOLD_MQTT_SOURCE_TABLE_SIZE)',
      registers,
    }),
    mqttForbidden: new Counter({
      name: 'skjold_mqtt_forbidden_total',
      help: 'Publishes and subscriptions refused by the topic ACL',
      labelNames: ['action'] as const,
      registers,
    }),
    mqttTelemetry: talliedCounter({
      name: 'skjold_mqtt_telemetry_messages_total',
      help: "Telemetry messages taken from devices, by path (fast: beside aedes' emitter; broker: through aedes) and QoS",
      labelNames: ['path', 'qos'] as const,
      registers,
    }),
    apiAuthRefused: new Counter({
      name: 'skjold_api_auth_refused_total',
      help: 'HTTP requests refused for their credentials, by reason (missing, invalid, revoked, session, csrf, kind, scope, not_loopback, rate_limited)',
      labelNames: ['reason'] as const,
      registers,
    }),
    apiRateLimited: new Counter({
      name: 'skjold_api_rate_limited_total',
      help: 'HTTP requests answered 429 for exceeding the per-address request rate',
      registers,
    }),
    ingestMessages: talliedCounter({
      name: 'skjold_ingest_messages_total',
      help: 'Telemetry messages handled by ingest, by device kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    ingestRejected: new Counter({
      name: 'skjold_ingest_rejected_total',
      help: 'Telemetry messages rejected, by reason',
      labelNames: ['kind', 'reason'] as const,
      registers,
    }),
    ingestDropped: new Counter({
      name: 'skjold_ingest_dropped_total',
      help: 'Valid messages acknowledged and not stored, by reason (objection: art. 21; consent_withdrawal: art. 7(3))',
      labelNames: ['kind', 'reason'] as const,
      registers,
    }),
    ingestFieldsDropped: talliedCounter({
      name: 'skjold_ingest_fields_dropped_total',
      help: 'Fields removed from accepted messages, by reason (unknown, identifier, location)',
      labelNames: ['kind', 'reason'] as const,
      registers,
    }),
    identifiersPseudonymised: new Counter({
      name: 'skjold_identifiers_pseudonymised_total',
      help: 'Identifiers found in payloads and replaced by pseudonyms, by type and where they were found',
      labelNames: ['type', 'where'] as const,
      registers,
    }),
    timestampsReplaced: new Counter({
      name: 'skjold_ingest_arrival_time_used_total',
      help: 'Points stamped with arrival time because the device time was missing or implausible',
      labelNames: ['kind'] as const,
      registers,
    }),
    pointsWritten: new Counter({
      name: 'skjold_store_points_written_total',
      help: 'Points the time-series store accepted',
      registers,
    }),
    writeBatches: new Counter({
      name: 'skjold_store_write_batches_total',
      help: 'Batch writes to the time-series store, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    writeSeconds: new Histogram({
      name: 'skjold_store_write_seconds',
      help: 'Duration of successful batch writes',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    bufferedPoints: new Gauge({
      name: 'skjold_transport_buffered_points',
      help: 'Points accepted by ingest and not yet stored',
      registers,
    }),
    backpressure: new Gauge({
      name: 'skjold_transport_backpressure',
      help: '1 while the buffer is full and devices wait for their acknowledgement',
      registers,
    }),
    spoolBytes: new Gauge({
      name: 'skjold_spool_bytes',
      help: 'Bytes in the spool segment files',
      registers,
    }),
    spoolRecordsPending: new Gauge({
      name: 'skjold_spool_records_pending',
      help: 'Points durable in the spool and not yet accepted by the store',
      registers,
    }),
    spoolFull: new Gauge({
      name: 'skjold_spool_full',
      help: '1 while the spool is at its size bound and devices wait for their acknowledgement',
      registers,
    }),
    spoolFsyncSeconds: new Histogram({
      name: 'skjold_spool_fsync_seconds',
      help: 'Duration of one spool group commit (one O_DSYNC write)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    spoolCommitRecords: new Histogram({
      name: 'skjold_spool_commit_records',
      help: 'Points made durable by one spool group commit',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers,
    }),
    spoolReplayed: new Counter({
      name: 'skjold_spool_replayed_total',
      help: 'Points found in the spool at start and written to the store again',
      registers,
    }),
    kafkaProduced: new Counter({
      name: 'skjold_kafka_points_produced_total',
      help: 'Points ingest produced to Kafka, by outcome (ok: acknowledged by all in-sync replicas; failed: device not acknowledged)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    kafkaProduceSeconds: new Histogram({
      name: 'skjold_kafka_produce_seconds',
      help: 'Duration of acknowledged produce requests to Kafka',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    kafkaConsumed: new Counter({
      name: 'skjold_kafka_points_consumed_total',
      help: 'What the store writer took from Kafka, by outcome (stored: points; undecodable: records not written by Skjold, skipped; expired: records deleted from the topic before the writers stored them, each holding one or more points, lost)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    storeUp: new Gauge({
      name: 'skjold_store_up',
      help: '1 when the last write to the time-series store succeeded',
      registers,
    }),
    instanceInfo: new Gauge({
      name: 'skjold_instance_info',
      help: 'Always 1; names this instance (SKJOLD_INSTANCE_ID) when several share a fleet',
      labelNames: ['instance_id'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
