import { Readable } from 'node:stream';
import type { QueryValue } from '../store/telemetry-store.ts';
import type { SeriesFilter, StoredPoint, TelemetryPages } from './telemetry-pages.ts';

export type ExportFormat = 'json' | 'csv';

/** Who a point's `device` tag belongs to, as the export shows it. */
export interface ExportDevice {
  deviceId: string;
  kind: string;
  /** The device's raw identifiers, unsealed: present only in the tenant's own export. */
  identifiers?: Record<string, string>;
  pseudonyms: string[];
}

export interface ExportHeader {
  format: 'skjold-export/1';
  generatedAt: string;
  tenant: string;
  /** 'tenant': the controller's own copy (raw identifiers, restricted subjects included). 'operator': pseudonyms only, restricted subjects left out. */
  view: 'tenant' | 'operator';
  [key: string]: unknown;
}

const CSV_FIXED = ['measurement', 'time', 'device_id', 'identifier'] as const;

// A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One RFC 4180 cell. Text that a spreadsheet would run as a formula — a
 * device's free-text `note`, a tag a tenant chose — gets a leading `'`, so it
 * shows as the text it is: the export is opened by the subject or the tenant,
 * and must not act on their machine (art. 32(1)). A number (a reading such as
 * -3.5 °C or an RSSI of -71 dBm) comes from InfluxDB as a JS number and is
 * written as it is: it stays a number in the spreadsheet.
 */
export function csvCell(v: QueryValue | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = FORMULA_START.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Art. 15 and 20: the data "in a structured, commonly used and
 * machine-readable format", streamed as it is read from InfluxDB page by
 * page. JSON: the header (with the art. 15 information), then `telemetry`,
 * one point per element, then `summary` with the counts. CSV: one row per
 * point, a column per tag and field present in the data.
 */
export function exportStream(
  pages: TelemetryPages,
  filter: SeriesFilter,
  header: ExportHeader,
  devices: readonly ExportDevice[],
  format: ExportFormat,
  onDone?: (summary: { points: number }) => void,
): Readable {
  const byPseudonym = new Map<string, ExportDevice>();
  for (const d of devices) for (const p of d.pseudonyms) byPseudonym.set(p, d);
  const identifierOf = (d: ExportDevice | undefined) => {
    if (!d?.identifiers) return undefined;
    const values = Object.entries(d.identifiers);
    return values.length ? values.map(([t, v]) => `${t}:${v}`).join(' ') : undefined;
  };

  async function* json(): AsyncGenerator<string> {
    const head = JSON.stringify({ ...header, devices });
    yield `${head.slice(0, -1)},"telemetry":[\n`;
    let points = 0;
    for await (const p of pages.points(filter)) {
      const d = p.tags.device === undefined ? undefined : byPseudonym.get(p.tags.device);
      const row = {
        measurement: p.measurement,
        time: new Date(p.time).toISOString(),
        ...(d ? { deviceId: d.deviceId } : {}),
        ...(d?.identifiers ? { identifiers: d.identifiers } : {}),
        tags: p.tags,
        fields: p.fields,
      };
      yield `${points === 0 ? '' : ',\n'}${JSON.stringify(row)}`;
      points += 1;
    }
    onDone?.({ points });
    yield `\n],"summary":${JSON.stringify({ points })}}\n`;
  }

  async function* csv(): AsyncGenerator<string> {
    const tagKeys = new Set<string>();
    const fieldKeys = new Set<string>();
    for (const m of await pages.measurementsFor(filter)) {
      for (const k of await pages.tagKeys(m)) tagKeys.add(k);
      for (const k of await pages.fieldKeys(m)) fieldKeys.add(k);
    }
    const tags = [...tagKeys].sort();
    const fields = [...fieldKeys].sort();
    yield `${[...CSV_FIXED, ...tags, ...fields].map(csvCell).join(',')}\r\n`;
    let points = 0;
    for await (const p of pages.points(filter)) {
      const d = p.tags.device === undefined ? undefined : byPseudonym.get(p.tags.device);
      const cells = [
        p.measurement,
        new Date(p.time).toISOString(),
        d?.deviceId,
        identifierOf(d),
        ...tags.map((k) => p.tags[k]),
        ...fields.map((k) => p.fields[k]),
      ];
      yield `${cells.map(csvCell).join(',')}\r\n`;
      points += 1;
    }
    onDone?.({ points });
  }

  return Readable.from(format === 'csv' ? csv() : json(), { objectMode: false });
}

export type { StoredPoint };
