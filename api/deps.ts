import type { AuditLog } from '../audit/audit-log.ts';
import type { FleetHealth } from '../fleet/health.ts';
import type { ObjectionGate } from '../ingest/objection-gate.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { KeyStore } from '../pseudonymizer/keystore.ts';
import type { Enrolment } from '../registry/enrolment.ts';
import type { Registry } from '../registry/registry.ts';
import type { LegalHolds } from '../retention/holds.ts';
import type { IndexPurge } from '../store/index-purge.ts';
import type { StoreRouter } from '../store/store-router.ts';
import type { TenantMover } from '../store/tenant-move.ts';
import type { Transport } from '../transport/transport.ts';
import type { ConsoleUsers } from './console-users.ts';

export interface ApiDeps {
  registry: Registry;
  enrolment: Enrolment;
  keyStore: KeyStore;
  /** Every tenant's calls go to the InfluxDB server it is placed on (docs/stores.md). */
  store: StoreRouter;
  /** Moves a tenant to another store. */
  tenantMoves: TenantMover;
  metrics: Metrics;
  logger: Logger;
  audit: AuditLog;
  holds: LegalHolds;
  clock: Clock;
  indexPurge: IndexPurge;
  /** Erasure and retention wait for points in transit (Transport.drained). */
  transport: Pick<Transport, 'drained'>;
  /** The console's fleet health: history, presence, silent devices. */
  fleet: FleetHealth;
  /** Skjold's version, in the OpenAPI document. */
  version?: string;
  /** Ingest's view of objections, re-read when a subject's links or objections change. */
  objections?: Pick<ObjectionGate, 'refresh'>;
  /** Named in the art. 30 records. */
  operatorName: string;
  subProcessors: readonly string[];
  /** The operator's API token (compared by digest, in constant time). */
  operatorToken: string;
  /** Prometheus' scrape token; without one /metrics answers loopback callers only. */
  metricsToken?: string | undefined;
  /** Console users and sessions (api/console-users.ts). */
  users: ConsoleUsers;
  limits: {
    /** Requests a minute from one address, every route together. */
    requestsPerMinute: number;
    /** Failed authentications a minute from one address before it is answered 429. */
    authFailuresPerMinute: number;
  };
  /** The broker, told of a decommissioned device so every instance closes its connection and refuses it. */
  mqtt?: { decommissioned(deviceId: string): Promise<void> };
  /** Extra readiness checks (broker listening, transport open). */
  ready?: () => boolean;
  /** More readiness checks by name (broker listening, Redis when configured), each answering true or false. */
  readiness?: Record<string, () => Promise<boolean>>;
  /** Certificate and key (PEM): the API listens with HTTPS only when given. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
}
