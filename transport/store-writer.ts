import { isSkjoldError, SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { Point } from '../lib/point.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';

export interface StoreWriterOptions {
  store: TelemetryStore;
  metrics: Metrics;
  logger: Logger;
  /** Ceiling of the exponential backoff between retries, in ms. */
  retryMaxMs: number;
  /** Keeps retrying while this returns true. */
  keepTrying: () => boolean;
}

const RETRY_FIRST_MS = 100;

/**
 * Writes one tenant's batch, retrying with exponential backoff (and jitter)
 * for as long as the store is unreachable: a point is never given up on while
 * Skjold runs. A batch the store refuses outright (4xx: a malformed point) is
 * not retried; it is counted and reported, never silently lost.
 */
export function createStoreWriter(options: StoreWriterOptions) {
  const { store, metrics, logger } = options;
  const ensured = new Set<string>();

  async function attempt(tenantId: string, send: () => Promise<void>): Promise<void> {
    if (!ensured.has(tenantId)) {
      await store.ensureTenant(tenantId);
      ensured.add(tenantId);
    }
    const end = metrics.writeSeconds.startTimer();
    await send();
    end();
  }

  /** Resolves when stored; rejects with SKJOLD_ERR_STORE_WRITE if refused, or when told to stop trying. */
  async function retrying(tenantId: string, points: number, send: () => Promise<void>): Promise<void> {
    let delay = RETRY_FIRST_MS;
    for (let tries = 1; ; tries++) {
      try {
        await attempt(tenantId, send);
        metrics.writeBatches.inc({ outcome: 'ok' });
        metrics.pointsWritten.inc(points);
        metrics.storeUp.set(1);
        if (tries > 1) logger.info({ tenant: tenantId, tries }, 'store write succeeded after retries');
        return;
      } catch (err) {
        const retryable = (err as { retryable?: boolean }).retryable !== false;
        if (!retryable) {
          metrics.writeBatches.inc({ outcome: 'rejected' });
          logger.error({ tenant: tenantId, points, err }, 'store refused a batch');
          throw isSkjoldError(err)
            ? err
            : new SkjoldError('SKJOLD_ERR_STORE_WRITE', undefined, { cause: err });
        }
        metrics.writeBatches.inc({ outcome: 'retry' });
        metrics.storeUp.set(0);
        ensured.delete(tenantId);
        if (!options.keepTrying()) throw err;
        if (tries === 1 || tries % 10 === 0) {
          logger.warn({ tenant: tenantId, tries, retryInMs: delay, err }, 'store unavailable, retrying');
        }
        await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
        delay = Math.min(delay * 2, options.retryMaxMs);
      }
    }
  }

  return {
    /** One tenant's points. */
    write(tenantId: string, points: readonly Point[]): Promise<void> {
      return retrying(tenantId, points.length, () => store.write(tenantId, points));
    },

    /** One tenant's points already in line protocol (the spool's drainer): `points` lines in `lines`. */
    writeLines(tenantId: string, lines: Buffer, points: number): Promise<void> {
      return retrying(tenantId, points, () => store.writeLines(tenantId, lines));
    },
  };
}

export type StoreWriters = ReturnType<typeof createStoreWriter>;
/** What the in-process and Kafka transports write through. */
export type StoreWriter = Pick<StoreWriters, 'write'>;
/** What the spool's drainer writes through. */
export type LineWriter = Pick<StoreWriters, 'writeLines'>;
