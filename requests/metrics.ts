import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../lib/metrics.ts';
import type { RequestLog } from './request-log.ts';

const built = new WeakMap<Metrics, ReturnType<typeof build>>();

function build(metrics: Metrics, requests: RequestLog) {
  const registers = [metrics.registry];
  return {
    tenantAuthRefused: new Counter({
      name: 'skjold_tenant_auth_refused_total',
      help: 'Tenant API requests refused, by reason (missing, invalid, revoked, scope)',
      labelNames: ['reason'] as const,
      registers,
    }),
    tenantActions: new Counter({
      name: 'skjold_subject_requests_total',
      help: 'Data-subject request actions carried out, by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    overdue: new Gauge({
      name: 'skjold_subject_requests_overdue',
      help: 'Data-subject requests past their due date (art. 12(3)) and not answered, by tenant',
      labelNames: ['tenant'] as const,
      registers,
      async collect() {
        this.reset();
        for (const { tenantId, n } of await requests.overdueCounts()) this.set({ tenant: tenantId }, n);
      },
    }),
  };
}

/** Subject-request metrics, registered once per metrics registry. Labels: reasons, kinds and tenant ids only. */
export function requestMetrics(metrics: Metrics, requests: RequestLog) {
  let m = built.get(metrics);
  if (!m) {
    m = build(metrics, requests);
    built.set(metrics, m);
  }
  return m;
}

export type RequestMetrics = ReturnType<typeof requestMetrics>;
