import type { FleetEvents } from '../fleet/events.ts';
import { byKind } from '../lib/device-kinds.ts';
import { isSkjoldError } from '../lib/errors.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Transport } from '../transport/transport.ts';
import type { DeviceContext } from './device-context.ts';
import type { ObjectionGate } from './objection-gate.ts';
import type { RejectionLog } from './rejection-log.ts';
import { type IngestPseudonymizer, type TimePolicy, transformMessage } from './transform.ts';

export interface IngestOptions {
  pseudonymizer: IngestPseudonymizer;
  transport: Transport;
  metrics: Metrics;
  /** Where rejections are logged: the first per device and reason, then summaries. */
  rejections: RejectionLog;
  time: TimePolicy;
  now?: () => number;
  /** Told of every accepted, rejected and dropped message (fleet health). */
  fleet?: Pick<FleetEvents, 'accepted' | 'rejected' | 'dropped'>;
  /** Says which points a subject's objection or consent withdrawal keeps out of storage. */
  gate?: Pick<ObjectionGate, 'blocked'>;
}

/** `dropped`: received and acknowledged, lawfully not stored (an objection or a withdrawn consent). */
export type IngestOutcome = 'stored' | 'rejected' | 'dropped';

/**
 * Validates, minimises, pseudonymises and tags one message, then hands the
 * point to the transport. Resolves when the point is safe (the device may be
 * acknowledged); rejects only when the transport cannot take it, in which
 * case the device must not be acknowledged. A point whose subject objected to
 * its purpose is dropped and acknowledged all the same: it was received, and
 * not storing it is the answer the subject is owed, not a fault to resend.
 */
export function createIngest(options: IngestOptions) {
  const { pseudonymizer, transport, metrics, rejections, time } = options;
  const now = options.now ?? Date.now;
  // Counted per message: tallies, not a label hash per increment (lib/tallied-counter.ts).
  const stored = byKind((kind) => metrics.ingestMessages.tally({ kind, outcome: 'stored' }));
  const fieldsDropped = byKind((kind) => ({
    unknown: metrics.ingestFieldsDropped.tally({ kind, reason: 'unknown' }),
    identifier: metrics.ingestFieldsDropped.tally({ kind, reason: 'identifier' }),
    location: metrics.ingestFieldsDropped.tally({ kind, reason: 'location' }),
  }));

  return {
    /**
     * Not an async function: the message is transformed and handed to the
     * transport at once, and only the context and the dropped-field tally
     * wait for the transport's promise (on the spool, a group commit's, shared
     * by hundreds of messages), not the payload or the point. Whatever
     * throws becomes a rejection, as from an async function.
     */
    handle(ctx: DeviceContext, payload: Buffer): Promise<IngestOutcome> {
      try {
        const result = transformMessage(ctx, payload, now(), pseudonymizer, time);
        if (!result.ok) {
          metrics.ingestRejected.inc({ kind: ctx.kind, reason: result.reason });
          metrics.ingestMessages.inc({ kind: ctx.kind, outcome: 'rejected' });
          options.fleet?.rejected(ctx, result.reason);
          // The device pseudonym and zod paths only: the payload is never logged.
          rejections.rejected({
            device: ctx.devicePseudonym,
            tenant: ctx.tenantId,
            reason: result.reason,
            msg: 'message rejected',
            fields: { detail: result.detail },
          });
          return Promise.resolve('rejected');
        }
        // Art. 21(1), art. 7(3): no storage for a purpose the subject objected to or withdrew consent for.
        const blocked = options.gate?.blocked(ctx, result.point.timestampMs) ?? null;
        if (blocked !== null) {
          metrics.ingestDropped.inc({ kind: ctx.kind, reason: blocked });
          metrics.ingestMessages.inc({ kind: ctx.kind, outcome: 'dropped' });
          options.fleet?.dropped(ctx, blocked);
          return Promise.resolve('dropped');
        }
        const { dropped } = result;
        const droppedTally = fieldsDropped[ctx.kind];
        for (const reason in dropped) {
          const n = dropped[reason as keyof typeof dropped];
          if (n > 0) droppedTally[reason as keyof typeof dropped].inc(n);
        }
        for (const p of result.pseudonymised)
          metrics.identifiersPseudonymised.inc({ type: p.type, where: p.where });
        if (result.arrivalTime) metrics.timestampsReplaced.inc({ kind: ctx.kind });
        return transport.send(ctx.tenantId, result.point).then(
          (): IngestOutcome => {
            stored[ctx.kind].inc();
            options.fleet?.accepted(ctx, dropped);
            return 'stored';
          },
          (err: unknown): IngestOutcome => {
            // The store refused the point outright (not an outage): retrying cannot
            // help, so it is counted and reported, and the device is not made to resend.
            if (!isSkjoldError(err, 'SKJOLD_ERR_STORE_WRITE')) throw err;
            metrics.ingestRejected.inc({ kind: ctx.kind, reason: 'store_refused' });
            metrics.ingestMessages.inc({ kind: ctx.kind, outcome: 'rejected' });
            options.fleet?.rejected(ctx, 'store_refused');
            return 'rejected';
          },
        );
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

export type Ingest = ReturnType<typeof createIngest>;
