import type { Clock } from '../lib/clock.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { Registry } from '../registry/registry.ts';
import { TELEMETRY_FIELDS } from '../store/telemetry-fields.ts';
import { type Aggregation, seriesStatement } from '../store/telemetry-influxql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { bucketCount, resolveWindow, windowMs } from '../store/telemetry-window.ts';
import { excludedDevices } from './exclusions.ts';
import {
  MAX_DEVICES_PER_QUERY,
  type TelemetryDevicesParams,
  type TelemetryQueryParams,
} from './telemetry-params.ts';

/** Most points one query returns, over all its series (docs/telemetry-api.md). */
export const MAX_POINTS_PER_QUERY = 500_000;
/** Statements sent to InfluxDB in one request. */
const STATEMENTS_PER_REQUEST = 50;
const HOUR = 3_600_000;

export interface TelemetryDevice {
  /** The device's login pseudonym under the tenant's newest key version. */
  device: string;
  kind: DeviceKind;
  contract: string;
  /** The area the tenant gave the device, or null. */
  group: string | null;
  fields: string[];
}

export interface TelemetrySeries {
  device: string;
  /** [epoch ms of the window's start, the aggregate or null for an empty window], oldest first. */
  points: Array<[number, number | null]>;
}

export interface TelemetryResult {
  tenant: string;
  kind: DeviceKind;
  field: string;
  window: string;
  agg: Aggregation;
  from: string;
  to: string;
  series: TelemetrySeries[];
}

interface Visible {
  id: string;
  kind: DeviceKind;
  contract: string;
  area: string | null;
  /** Login pseudonyms, oldest key version first: the `device` tag values of its points. */
  pseudonyms: string[];
}

const current = (d: Visible) => d.pseudonyms.at(-1) ?? '';

/**
 * Telemetry for charts: one tenant's devices and their aggregated readings,
 * from that tenant's own database only. Devices are named by pseudonym and
 * only the tenant's own are found; restricted subjects' devices (art. 18)
 * are left out of the device list and of every query, for the operator and
 * the tenant alike, by the same registry rows the operator's export uses.
 */
export function createTelemetryQuery(deps: { registry: Registry; store: TelemetryStore; clock: Clock }) {
  const { registry, store, clock } = deps;

  async function visibleDevices(tenantId: string, kind?: DeviceKind): Promise<Visible[]> {
    const rows = await registry.sql.query<{
      id: string;
      kind: DeviceKind;
      contract: string;
      area: string | null;
      pseudonym: string;
    }>(
      `SELECT d.id, d.kind, d.contract_id AS contract, d.area, p.pseudonym
       FROM devices d JOIN device_pseudonyms p ON p.device_id = d.id AND p.id_type = d.login_type
       WHERE d.tenant_id = $1 AND ($2::text IS NULL OR d.kind = $2)
       ORDER BY d.id, p.key_version`,
      [tenantId, kind ?? null],
    );
    // Art. 18(1): a restricted subject's data is stored, not shown; its devices under every key version.
    const excluded = await excludedDevices(registry.sql, { tenantId });
    const excludedIds = new Set(excluded.map((d) => d.deviceId));
    const excludedPseudonyms = new Set(excluded.flatMap((d) => d.pseudonyms));
    const byId = new Map<string, Visible>();
    for (const r of rows) {
      const d = byId.get(r.id) ?? {
        id: r.id,
        kind: r.kind,
        contract: r.contract,
        area: r.area,
        pseudonyms: [],
      };
      d.pseudonyms.push(r.pseudonym);
      byId.set(r.id, d);
    }
    return [...byId.values()]
      .filter((d) => !excludedIds.has(d.id) && !d.pseudonyms.some((p) => excludedPseudonyms.has(p)))
      .sort((a, b) => current(a).localeCompare(current(b)));
  }

  /** The devices a query names, chooses by group, or (neither) all of the kind. */
  async function chosen(tenantId: string, q: TelemetryQueryParams): Promise<Visible[]> {
    const visible = await visibleDevices(tenantId, q.kind);
    if (q.devices !== undefined) {
      const named = [...new Set(q.devices.split(','))];
      if (named.length > MAX_DEVICES_PER_QUERY) tooMany();
      const byPseudonym = new Map(visible.flatMap((d) => d.pseudonyms.map((p) => [p, d] as const)));
      const picked = new Map<string, Visible>();
      for (const p of named) {
        const d = byPseudonym.get(p);
        // Unknown, another tenant's, another kind's and restricted look the same: no existence oracle.
        if (!d) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `device ${p}`);
        picked.set(d.id, d);
      }
      return [...picked.values()].sort((a, b) => current(a).localeCompare(current(b)));
    }
    const devices = q.group === undefined ? visible : visible.filter((d) => d.area === q.group);
    if (devices.length > MAX_DEVICES_PER_QUERY) tooMany();
    return devices;
  }

  const tooMany = (): never => {
    throw new SkjoldError(
      'SKJOLD_ERR_QUERY_TOO_LARGE',
      `at most ${MAX_DEVICES_PER_QUERY} devices per query: name devices or a smaller group`,
    );
  };

  return {
    /** The numeric fields of each kind, with units. */
    fields: () => TELEMETRY_FIELDS,

    async devices(tenantId: string, params: TelemetryDevicesParams): Promise<TelemetryDevice[]> {
      return (await visibleDevices(tenantId, params.kind)).map((d) => ({
        device: current(d),
        kind: d.kind,
        contract: d.contract,
        group: d.area,
        fields: TELEMETRY_FIELDS[d.kind].map((f) => f.name),
      }));
    },

    async query(tenantId: string, q: TelemetryQueryParams): Promise<TelemetryResult> {
      const toMs = q.to === undefined ? clock().getTime() : Date.parse(q.to);
      const fromMs = q.from === undefined ? toMs - HOUR : Date.parse(q.from);
      if (!(fromMs < toMs)) throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'from must be before to');
      const window = resolveWindow(fromMs, toMs, q.window);
      const devices = await chosen(tenantId, q);
      const points = devices.length * bucketCount(fromMs, toMs, windowMs(window));
      if (points > MAX_POINTS_PER_QUERY)
        throw new SkjoldError(
          'SKJOLD_ERR_QUERY_TOO_LARGE',
          `${points} points; at most ${MAX_POINTS_PER_QUERY} per query: a coarser window or fewer devices`,
        );
      const series: TelemetrySeries[] = [];
      for (let i = 0; i < devices.length; i += STATEMENTS_PER_REQUEST) {
        const batch = devices.slice(i, i + STATEMENTS_PER_REQUEST);
        const statements = batch.map((d) =>
          seriesStatement({
            kind: q.kind,
            field: q.field,
            agg: q.agg,
            pseudonyms: d.pseudonyms,
            fromMs,
            toMs,
            window,
          }),
        );
        const results = await store.query(tenantId, statements.join('; '));
        batch.forEach((d, j) => {
          const result = results[j];
          if (result?.error) throw new SkjoldError('SKJOLD_ERR_STORE_QUERY', result.error);
          const values = result?.series?.[0]?.values ?? [];
          series.push({
            device: current(d),
            points: values.map((v) => [Number(v[0]), typeof v[1] === 'number' ? v[1] : null]),
          });
        });
      }
      return {
        tenant: tenantId,
        kind: q.kind,
        field: q.field,
        window,
        agg: q.agg,
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
        series,
      };
    },
  };
}

export type TelemetryQuery = ReturnType<typeof createTelemetryQuery>;
