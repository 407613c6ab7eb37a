import { type DeviceKind, EXPECTED_INTERVAL_S, SILENT_AFTER_INTERVALS } from '../lib/device-kinds.ts';
import type { SqlClient } from '../registry/sql.ts';
import { fleetDevices } from './devices-view.ts';
import { type HistogramSnapshot, quantileMs } from './latency.ts';
import type { Presence } from './presence.ts';
import type { DeviceRejections, Step, TenantCounts } from './step.ts';

/** Whose view: the operator's (all tenants, or one) or a tenant's own. */
export interface FleetScope {
  tenantId: string | null;
  operator: boolean;
}

export interface HistoryStep extends Step {
  startedAt: number;
  latency?: HistogramSnapshot;
}

export interface FleetHealthReport {
  at: string;
  store: { up: boolean; writeLatencyMs: { p50: number | null; p99: number | null } };
  spool: { backlogBytes: number; backlogPoints: number } | null;
  kinds: Array<{ tenant: string; kind: DeviceKind; devices: number; connected: number; silent: number }>;
  silent: Array<{
    tenant: string;
    device: string | null;
    kind: DeviceKind;
    lastSeen: string | null;
    expectedIntervalS: number;
  }>;
  rates: { stepS: number; points: Array<[number, number]> };
  rejections: {
    byReason: Array<{ reason: string; count: number }>;
    devices: Array<{ tenant: string | null; device: string | null; reason: string; count: number }>;
    points: Array<[number, number]>;
  };
  /** Fields removed from stored messages, and whole messages not stored (a subject's objection), by reason. */
  dropped: {
    fields: Array<{ reason: string; count: number }>;
    points: Array<{ reason: string; count: number }>;
  };
}

/** One step of the history every 10 s, kept for an hour: 360 steps. */
export const STEP_S = 10;
export const WINDOW_MS = 3_600_000;
/** Store write latency is taken over the last five minutes. */
const LATENCY_STEPS = 30;
/** Rejecting devices listed, most rejections first. */
export const TOP_DEVICES = 20;
/** Silent devices listed, longest silent first; the counts per kind hold them all. */
export const MAX_SILENT = 500;

interface ReportInput {
  scope: FleetScope;
  now: number;
  steps: HistoryStep[];
  current: HistoryStep;
  latency: { now: HistogramSnapshot; baseline: HistogramSnapshot | undefined };
  storeUp: boolean;
  spool: { backlogBytes: number; backlogPoints: number } | null;
  presence: Pick<Presence, 'isConnected' | 'lastSeen'>;
  sql: SqlClient;
}

const perSecond = (n: number, s: HistoryStep) =>
  Math.round((n / Math.max(1, (s.at - s.startedAt) / 1000)) * 1000) / 1000;

const sorted = (m: Map<string, number>) =>
  [...m.entries()]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));

/** Fleet health as the console shows it, for one scope. */
export async function buildReport(input: ReportInput): Promise<FleetHealthReport> {
  const { scope, now, presence } = input;
  const steps = input.steps.filter((s) => s.at > now - WINDOW_MS);
  const wanted = (tenant: string | null) =>
    scope.tenantId === null ? scope.operator : tenant === scope.tenantId;
  const countsOf = (s: Step): TenantCounts[] =>
    [...s.tenants.entries()].filter(([t]) => wanted(t)).map(([, c]) => c);

  const byReason = new Map<string, number>();
  const dropped = new Map<string, number>();
  const droppedPoints = new Map<string, number>();
  const byDevice = new Map<string, DeviceRejections>();
  for (const s of [...steps, input.current]) {
    for (const c of countsOf(s)) {
      for (const [r, n] of c.rejected) byReason.set(r, (byReason.get(r) ?? 0) + n);
      for (const [r, n] of c.dropped) dropped.set(r, (dropped.get(r) ?? 0) + n);
      for (const [r, n] of c.droppedPoints) droppedPoints.set(r, (droppedPoints.get(r) ?? 0) + n);
    }
    for (const d of s.devices) {
      if (!wanted(d.tenantId)) continue;
      const key = `${d.tenantId}\0${d.deviceId}\0${d.reason}`;
      const seen = byDevice.get(key);
      if (seen) seen.count += d.count;
      else byDevice.set(key, { ...d });
    }
  }

  const devices = await fleetDevices(input.sql, scope.tenantId);
  const restricted = new Set(devices.filter((d) => d.restricted).map((d) => d.deviceId));
  const kinds = new Map<string, FleetHealthReport['kinds'][number]>();
  const silent: Array<FleetHealthReport['silent'][number] & { since: number }> = [];
  for (const d of devices) {
    const key = `${d.tenantId}\0${d.kind}`;
    const k = kinds.get(key) ?? { tenant: d.tenantId, kind: d.kind, devices: 0, connected: 0, silent: 0 };
    kinds.set(key, k);
    k.devices++;
    if (presence.isConnected(d.deviceId)) k.connected++;
    const lastSeen = Math.max(presence.lastSeen(d.deviceId) ?? 0, d.lastSeenAt?.getTime() ?? 0) || null;
    const interval = EXPECTED_INTERVAL_S[d.kind];
    // A device never heard from counts from its registration.
    const since = lastSeen ?? d.createdAt.getTime();
    if (now - since <= SILENT_AFTER_INTERVALS * interval * 1000) continue;
    k.silent++;
    // Art. 18(1): a restricted subject's device is kept but shown in no list.
    if (restricted.has(d.deviceId)) continue;
    silent.push({
      tenant: d.tenantId,
      device: d.pseudonym,
      kind: d.kind,
      lastSeen: lastSeen === null ? null : new Date(lastSeen).toISOString(),
      expectedIntervalS: interval,
      since,
    });
  }

  const latencyFrom = steps.at(-LATENCY_STEPS)?.latency ?? input.latency.baseline;
  return {
    at: new Date(now).toISOString(),
    store: {
      up: input.storeUp,
      writeLatencyMs: {
        p50: quantileMs(latencyFrom, input.latency.now, 0.5),
        p99: quantileMs(latencyFrom, input.latency.now, 0.99),
      },
    },
    spool: scope.operator ? input.spool : null,
    kinds: [...kinds.values()],
    silent: silent
      .sort((a, b) => a.since - b.since)
      .slice(0, MAX_SILENT)
      .map(({ since: _since, ...s }) => s),
    rates: {
      stepS: STEP_S,
      points: steps.map((s) => [
        s.at,
        perSecond(
          sum(countsOf(s), (c) => c.accepted),
          s,
        ),
      ]),
    },
    rejections: {
      byReason: sorted(byReason),
      devices: [...byDevice.values()]
        .filter((d) => d.deviceId === null || !restricted.has(d.deviceId))
        .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
        .slice(0, TOP_DEVICES)
        .map((d) => ({ tenant: d.tenantId, device: d.device, reason: d.reason, count: d.count })),
      points: steps.map((s) => [
        s.at,
        perSecond(
          sum(countsOf(s), (c) => sum([...c.rejected.values()], (n) => n)),
          s,
        ),
      ]),
    },
    dropped: { fields: sorted(dropped), points: sorted(droppedPoints) },
  };
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let n = 0;
  for (const t of items) n += f(t);
  return n;
}
