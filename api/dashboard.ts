import { RESTRICTED_DEVICE_IDS } from '../requests/exclusions.ts';
import type { ApiDeps } from './deps.ts';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

interface MetricJson {
  name: string;
  values: Array<{ value: number; labels: Record<string, string | number> }>;
}

/**
 * The built-in status page: tenants, device counts and the pipeline's
 * counters. Aggregates only — no device, pseudonym or reading is shown.
 * Grafana (deploy/grafana) is where operators look at telemetry.
 */
export async function renderDashboard(deps: ApiDeps): Promise<string> {
  const tenants = await deps.registry.listTenants();
  const counts = await deps.registry.sql.query<{ tenant_id: string; kind: string; n: number }>(
    // Art. 18: restricted subjects' devices are not counted here.
    `SELECT tenant_id, kind, count(*)::int AS n FROM devices WHERE id NOT IN (${RESTRICTED_DEVICE_IDS})
     GROUP BY tenant_id, kind ORDER BY tenant_id, kind`,
  );
  const metrics = (await deps.metrics.registry.getMetricsAsJSON()) as unknown as MetricJson[];
  const shown = metrics.filter((m) => m.name.startsWith('skjold_') && !m.name.startsWith('skjold_process_'));
  const tenantRows = tenants
    .map((t) => {
      const devices = counts
        .filter((c) => c.tenant_id === t.id)
        .map((c) => `${escapeHtml(c.kind)}: ${c.n}`)
        .join(', ');
      return `<tr><td>${escapeHtml(t.id)}</td><td>${escapeHtml(t.name)}</td><td>${devices || '—'}</td></tr>`;
    })
    .join('');
  const metricRows = shown
    .flatMap((m) =>
      m.values.map((v) => {
        const labels = Object.entries(v.labels)
          .map(([k, val]) => `${k}=${val}`)
          .join(' ');
        return `<tr><td>${escapeHtml(m.name)}</td><td>${escapeHtml(labels)}</td><td>${v.value}</td></tr>`;
      }),
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Skjold</title>
<meta http-equiv="refresh" content="5">
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:2em}
td,th{border-bottom:1px solid #ddd;padding:4px 12px;text-align:left}th{background:#f4f4f4}</style></head><body>
<h1>Skjold</h1><p>Pseudonymised telemetry, per tenant. This page refreshes every 5 s.</p>
<h2>Tenants</h2><table><tr><th>tenant</th><th>name</th><th>devices</th></tr>${tenantRows}</table>
<h2>Pipeline</h2><table><tr><th>metric</th><th>labels</th><th>value</th></tr>${metricRows}</table>
</body></html>`;
}
