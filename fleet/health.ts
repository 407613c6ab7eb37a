import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { SqlClient } from '../registry/sql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import type { FleetEvents } from './events.ts';
import { type HistogramSnapshot, snapshotHistogram } from './latency.ts';
import { createPresence } from './presence.ts';
import {
  buildReport,
  type FleetHealthReport,
  type FleetScope,
  type HistoryStep,
  STEP_S,
  WINDOW_MS,
} from './report.ts';
import { createRing } from './ring.ts';
import { createStepCounter } from './step.ts';

/**
 * An answer that the store is up holds this long; one that it is down is asked
 * again at the next look, so a single slow answer on a busy host shows the
 * store down for one refresh, not for ten seconds of them.
 */
const STORE_UP_HOLDS_MS = 10_000;
const STORE_PING_TIMEOUT_MS = 3_000;
/** How often the clock is looked at to close a step. */
const TICK_MS = 1_000;

export interface FleetHealthDeps {
  sql: SqlClient;
  clock: Clock;
  metrics: Metrics;
  store: Pick<TelemetryStore, 'ping'>;
  logger: Logger;
  /** Whether the transport is the spool, whose backlog is then reported. */
  spool: boolean;
}

/**
 * Fleet health for the console: a history of the last hour, kept in this
 * process from its start (messages accepted and rejected per second, by
 * tenant, reason and device pseudonym), which devices are connected and when
 * each last sent something. Per instance: behind a load balancer each
 * instance reports the devices connected to it; last-seen times are shared
 * through the registry.
 */
export function createFleetHealth(deps: FleetHealthDeps) {
  const { sql, clock, metrics, store, logger } = deps;
  const counter = createStepCounter();
  const presence = createPresence({ sql, clock });
  const ring = createRing<HistoryStep>(WINDOW_MS / 1000 / STEP_S);
  let stepStartedAt = clock().getTime();
  let baseline: HistogramSnapshot | undefined;
  /** When the store last answered up; undefined once it did not (that answer is not reused). */
  let upAt: number | undefined;
  let pinging: Promise<boolean> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const events: FleetEvents = {
    accepted(device, dropped) {
      counter.accepted(device, dropped);
      presence.seen(device);
    },
    rejected(device, reason) {
      counter.rejected(device, reason);
      if (device) presence.seen(device);
    },
    dropped(device, reason) {
      counter.dropped(device, reason);
      presence.seen(device);
    },
    connected: (device) => presence.connected(device),
    disconnected: (device) => presence.disconnected(device),
  };

  async function askStore(): Promise<boolean> {
    const at = clock().getTime();
    let timeout: NodeJS.Timeout | undefined;
    const up = await Promise.race([
      store.ping().catch(() => false),
      new Promise<boolean>((r) => {
        timeout = setTimeout(() => r(false), STORE_PING_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timeout));
    upAt = up ? at : undefined;
    return up;
  }

  /** Whether the store answers: a recent "up" as it stands, else one ping shared by everyone asking meanwhile. */
  function pingStore(): Promise<boolean> {
    if (upAt !== undefined && Math.abs(clock().getTime() - upAt) < STORE_UP_HOLDS_MS) {
      return Promise.resolve(true);
    }
    pinging ??= askStore().finally(() => {
      pinging = undefined;
    });
    return pinging;
  }

  async function gaugeValue(g: Metrics['spoolBytes']): Promise<number> {
    return (await g.get()).values[0]?.value ?? 0;
  }

  return {
    events,

    /**
     * Closes the current step into the history once the clock has moved a step
     * past its start, and writes due last-seen times to the registry. A timer
     * calls it every second; tests move the clock and call it.
     */
    async tick(): Promise<boolean> {
      const latency = await snapshotHistogram(metrics.writeSeconds);
      baseline ??= latency;
      const at = clock().getTime();
      if (at - stepStartedAt < STEP_S * 1000) return false;
      ring.push({ ...counter.close(at), startedAt: stepStartedAt, latency });
      stepStartedAt = at;
      await Promise.all([
        presence.persist().catch((err: unknown) => logger.warn({ err }, 'last-seen times not written')),
        pingStore(),
      ]);
      return true;
    },

    async report(scope: FleetScope): Promise<FleetHealthReport> {
      const now = clock().getTime();
      const [latencyNow, up, spoolBytes, spoolPoints] = await Promise.all([
        snapshotHistogram(metrics.writeSeconds),
        pingStore(),
        gaugeValue(metrics.spoolBytes),
        gaugeValue(metrics.spoolRecordsPending),
      ]);
      return buildReport({
        scope,
        now,
        steps: ring.toArray(),
        current: { ...counter.peek(now), startedAt: stepStartedAt },
        latency: { now: latencyNow, baseline },
        storeUp: up,
        spool: deps.spool ? { backlogBytes: spoolBytes, backlogPoints: spoolPoints } : null,
        presence,
        sql,
      });
    },

    start(): void {
      void snapshotHistogram(metrics.writeSeconds).then((s) => {
        baseline ??= s;
      });
      timer = setInterval(() => {
        this.tick().catch((err: unknown) => logger.warn({ err }, 'fleet health step failed'));
      }, TICK_MS);
      timer.unref();
    },

    /** Stops sampling and writes every unwritten last-seen time. */
    async stop(): Promise<void> {
      clearInterval(timer);
      await presence
        .persist({ all: true })
        .catch((err: unknown) => logger.warn({ err }, 'last-seen times not written'));
    },
  };
}

export type FleetHealth = ReturnType<typeof createFleetHealth>;
