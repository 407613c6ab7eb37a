import type { AuditLog } from '../audit/audit-log.ts';
import type { ObjectionGate } from '../ingest/objection-gate.ts';
import type { Clock } from '../lib/clock.ts';
import type { KeyStore } from '../pseudonymizer/keystore.ts';
import { createPseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import type { Contract, Registry } from '../registry/registry.ts';
import type { LegalHolds } from '../retention/holds.ts';
import type { IndexPurge } from '../store/index-purge.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import type { Transport } from '../transport/transport.ts';
import { createRequestLog, type RequestKind } from './request-log.ts';
import { createSealer } from './sealing.ts';
import { createSubjects } from './subjects.ts';
import { createTelemetryPages } from './telemetry-pages.ts';
import { createTenantTokens } from './tokens.ts';

/** What subject rights need of a running Skjold: `createSkjold()`'s result and the API's deps both fit. */
export interface RightsDeps {
  registry: Registry;
  keyStore: KeyStore;
  store: TelemetryStore;
  audit: AuditLog;
  holds: LegalHolds;
  clock: Clock;
  /** Makes sure erased pseudonyms leave InfluxDB's index (store/index-purge.ts). */
  indexPurge: IndexPurge;
  /** Points still on their way to the store; erasure waits for them before it drops series. */
  transport?: Pick<Transport, 'drained'>;
  /** Re-reads which devices' points ingest drops (ingest/objection-gate.ts) once links or objections change. */
  objections?: Pick<ObjectionGate, 'refresh'>;
  /** Named as recipients in the art. 15 information (SKJOLD_OPERATOR_NAME, SKJOLD_SUBPROCESSORS). */
  operatorName?: string;
  subProcessors?: readonly string[];
}

/** Who acted: `operator`, or `tenant:<tenant>/<token id>` (recorded in the audit log). */
export type Actor = string;

/**
 * The parts every subject-rights action uses, built once per API (or once
 * per call for `eraseSubject`): sealing, subjects, the request register,
 * tokens, and paged telemetry reads.
 */
export function createRights(deps: RightsDeps) {
  const sealer = createSealer(deps.keyStore);
  const pseudonymizer = createPseudonymizer(deps.keyStore, { cacheSize: 0 });
  const subjects = createSubjects({
    registry: deps.registry,
    pseudonymizer,
    sealer,
    changed: async () => deps.objections?.refresh(),
  });
  const requests = createRequestLog(deps.registry.sql, deps.clock);
  const tokens = createTenantTokens(deps.registry.sql);

  async function contractsOf(tenantId: string): Promise<Map<string, Contract>> {
    return new Map((await deps.registry.listContracts(tenantId)).map((c) => [c.id, c]));
  }

  return {
    deps,
    sealer,
    subjects,
    requests,
    tokens,
    contractsOf,
    pages: (tenantId: string) => createTelemetryPages(deps.store, tenantId),

    /**
     * The request an action answers (named, or filed now), checked to be this
     * subject's: the subject's pseudonym under every key version.
     */
    async requestFor(tenantId: string, ref: string, kinds: readonly RequestKind[], requestId?: string) {
      await subjects.require(tenantId, ref);
      const names = [sealer.subjectPseudonym(tenantId, ref), ...sealer.subjectPseudonyms(tenantId, ref)];
      return requests.openFor(tenantId, names, kinds, requestId);
    },

    /** Records the action in the audit log and closes its request with the entry that proves it. */
    async record(
      actor: Actor,
      tenantId: string,
      ref: string,
      action: string,
      requestId: string,
      detail: Record<string, unknown>,
    ) {
      const entry = await deps.audit.append({
        actor,
        action,
        tenantId,
        target: sealer.subjectPseudonym(tenantId, ref),
        detail: { request: requestId, ...detail },
      });
      const audit = { seq: entry.seq, hash: entry.hash };
      const request = await requests.complete(tenantId, requestId, { ...detail, audit });
      return { audit, request };
    },
  };
}

export type Rights = ReturnType<typeof createRights>;
