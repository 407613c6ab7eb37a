import { randomUUID } from 'node:crypto';
import type { Clock } from '../lib/clock.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { SqlClient } from '../registry/sql.ts';
import { dueDate, MAX_EXTENSION_MONTHS } from './deadlines.ts';

export const REQUEST_KINDS = [
  'access', // art. 15
  'portability', // art. 20
  'erasure', // art. 17
  'restriction', // art. 18
  'restriction_lift', // art. 18(3)
  'objection', // art. 21
  'consent_withdrawal', // art. 7(3)
  'rectification', // art. 16
] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];
export type RequestStatus = 'open' | 'extended' | 'completed' | 'refused';

export interface SubjectRequest {
  id: string;
  tenantId: string;
  /** Keyed pseudonym of the subject ref, never the ref. */
  subject: string;
  kind: RequestKind;
  status: RequestStatus;
  receivedAt: string;
  dueAt: string;
  extendedMonths: number;
  extensionReason: string | null;
  completedAt: string | null;
  outcome: Record<string, unknown> | null;
  overdue: boolean;
}

interface Row extends Omit<SubjectRequest, 'outcome' | 'overdue' | 'receivedAt' | 'dueAt' | 'completedAt'> {
  receivedAt: Date | string;
  dueAt: Date | string;
  completedAt: Date | string | null;
  outcome: string | null;
}

const COLUMNS = `id, tenant_id AS "tenantId", subject, kind, status, received_at AS "receivedAt", due_at AS "dueAt",
  extended_months AS "extendedMonths", extension_reason AS "extensionReason", completed_at AS "completedAt", outcome`;
const OPEN = `status IN ('open', 'extended')`;
const iso = (v: Date | string) => new Date(v).toISOString();

/**
 * The register of data-subject requests and their deadlines (art. 12(3)).
 * Times come from the injected clock, so tests move past a due date.
 */
export function createRequestLog(sql: SqlClient, clock: Clock) {
  const fromRow = (r: Row): SubjectRequest => {
    const status = r.status;
    const dueAt = iso(r.dueAt);
    return {
      ...r,
      extendedMonths: Number(r.extendedMonths),
      receivedAt: iso(r.receivedAt),
      dueAt,
      completedAt: r.completedAt === null ? null : iso(r.completedAt),
      outcome: r.outcome === null ? null : (JSON.parse(r.outcome) as Record<string, unknown>),
      overdue: (status === 'open' || status === 'extended') && new Date(dueAt) < clock(),
    };
  };

  async function get(tenantId: string, id: string): Promise<SubjectRequest> {
    const [row] = await sql.query<Row>(
      `SELECT ${COLUMNS} FROM subject_requests WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    // Another tenant's request and no request look the same.
    if (!row) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'request');
    return fromRow(row);
  }

  return {
    get,

    /** Records a request as received now (or at `receivedAt`, when it came in by another channel earlier). */
    async file(
      tenantId: string,
      subject: string,
      kind: RequestKind,
      receivedAt?: Date,
    ): Promise<SubjectRequest> {
      const received = receivedAt ?? clock();
      if (received.getTime() > clock().getTime())
        throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'receivedAt is in the future');
      const id = `req-${randomUUID()}`;
      await sql.query(
        `INSERT INTO subject_requests (id, tenant_id, subject, kind, status, received_at, due_at)
         VALUES ($1, $2, $3, $4, 'open', $5, $6)`,
        [id, tenantId, subject, kind, received.toISOString(), dueDate(received).toISOString()],
      );
      return get(tenantId, id);
    },

    /** Art. 12(3): up to two further months in all, with the reason the subject is told. */
    async extend(tenantId: string, id: string, months: number, reason: string): Promise<SubjectRequest> {
      const r = await get(tenantId, id);
      if (r.status !== 'open' && r.status !== 'extended')
        throw new SkjoldError('SKJOLD_ERR_REQUEST_STATE', `request is ${r.status}`);
      const total = r.extendedMonths + months;
      if (!Number.isInteger(months) || months < 1 || total > MAX_EXTENSION_MONTHS)
        throw new SkjoldError(
          'SKJOLD_ERR_REQUEST_STATE',
          `extensions add up to at most ${MAX_EXTENSION_MONTHS} months (already ${r.extendedMonths})`,
        );
      if (r.overdue) throw new SkjoldError('SKJOLD_ERR_REQUEST_STATE', 'request is already overdue');
      const reasons = r.extensionReason ? `${r.extensionReason}\n${reason}` : reason;
      await sql.query(
        `UPDATE subject_requests SET status = 'extended', extended_months = $3, extension_reason = $4, due_at = $5
         WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id, total, reasons, dueDate(new Date(r.receivedAt), total).toISOString()],
      );
      return get(tenantId, id);
    },

    /**
     * The open request this action answers: the one named (it must be the
     * subject's, of this kind, and still open), or a new one received now.
     */
    async openFor(
      tenantId: string,
      subjects: readonly string[],
      kinds: readonly RequestKind[],
      requestId?: string,
    ): Promise<SubjectRequest> {
      if (!requestId) return this.file(tenantId, subjects[0] as string, kinds[0] as RequestKind);
      const r = await get(tenantId, requestId);
      if (!subjects.includes(r.subject) || !kinds.includes(r.kind))
        throw new SkjoldError(
          'SKJOLD_ERR_REQUEST_STATE',
          `request ${requestId} is not a ${kinds.join('/')} request of this subject`,
        );
      if (r.status !== 'open' && r.status !== 'extended')
        throw new SkjoldError('SKJOLD_ERR_REQUEST_STATE', `request is ${r.status}`);
      return r;
    },

    async complete(
      tenantId: string,
      id: string,
      outcome: Record<string, unknown>,
      status: 'completed' | 'refused' = 'completed',
    ): Promise<SubjectRequest> {
      await sql.query(
        `UPDATE subject_requests SET status = $3, completed_at = $4, outcome = $5 WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id, status, clock().toISOString(), JSON.stringify(outcome)],
      );
      return get(tenantId, id);
    },

    /** One tenant's requests (or every tenant's, for the operator), oldest due first. */
    async list(filter: { tenantId?: string; overdue?: boolean; subjects?: readonly string[] } = {}) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.tenantId) {
        params.push(filter.tenantId);
        where.push(`tenant_id = $${params.length}`);
      }
      if (filter.subjects) {
        params.push(filter.subjects);
        where.push(`subject = ANY($${params.length}::text[])`);
      }
      if (filter.overdue) {
        params.push(clock().toISOString());
        where.push(`${OPEN} AND due_at < $${params.length}`);
      }
      const rows = await sql.query<Row>(
        `SELECT ${COLUMNS} FROM subject_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY due_at, id`,
        params,
      );
      return rows.map(fromRow);
    },

    /** Overdue requests per tenant now: the gauge's value. */
    overdueCounts(): Promise<Array<{ tenantId: string; n: number }>> {
      return sql.query<{ tenantId: string; n: number }>(
        `SELECT tenant_id AS "tenantId", count(*)::int AS n FROM subject_requests
         WHERE ${OPEN} AND due_at < $1 GROUP BY tenant_id ORDER BY tenant_id`,
        [clock().toISOString()],
      );
    },
  };
}

export type RequestLog = ReturnType<typeof createRequestLog>;
