import { z } from 'zod';
import { SkjoldError } from '../lib/errors.ts';
import type { SqlClient } from '../registry/sql.ts';

/**
 * A contract's retention policy. Defaults follow the seeds: telemetry is
 * deleted (or anonymised) within one year after the contract ends; billing
 * readings follow the jurisdiction's bookkeeping rule (retention/billing.ts).
 */
export interface RetentionPolicy {
  /** What happens to raw telemetry once the contract is due: removed, or k-anonymous aggregates kept. */
  telemetryAction: 'delete' | 'anonymise';
  /** Months after the contract's end before telemetry goes. */
  graceMonths: number;
  /** Billing period length (1, 2, 3, 4, 6 or 12 months, aligned to January). */
  billingPeriodMonths: number;
  /** Last month of the tenant's fiscal year (1–12). */
  fiscalYearEndMonth: number;
  /** Fewest distinct devices an aggregate group must hold to be published; at least MIN_ANONYMISE_K. */
  anonymiseK: number;
  /** Time bucket of an aggregate group (area × bucket). */
  anonymiseInterval: '1h' | '1d' | '7d';
  /** What a group is besides the bucket: each device's `area`, or all devices of the contract together. */
  anonymiseGroup: 'area' | 'contract';
  /**
   * Laplace noise on each published sum and mean (retention/noise.ts), for
   * ε-differential privacy per group per release; null publishes exact values.
   */
  anonymiseNoise: { epsilon: number } | null;
}

/**
 * The smallest k a policy may set. With k = 2 a group's mean and one member's
 * own reading give away the other's; five is the floor below which the
 * published sums say too much about each household (recital 26: "all the
 * means reasonably likely to be used" to single one out).
 */
export const MIN_ANONYMISE_K = 5;
/** The noise parameter's bounds: below 0.01 the noise drowns every value, above 10 it hides nothing. */
export const EPSILON_RANGE = { min: 0.01, max: 10 } as const;

export const DEFAULT_POLICY: Readonly<RetentionPolicy> = Object.freeze({
  // IoT Partner Sweden: "radera alternativt anonymisera uppgifter inom ett år efter uppsägning".
  telemetryAction: 'delete',
  graceMonths: 12,
  billingPeriodMonths: 1,
  fiscalYearEndMonth: 12,
  anonymiseK: 5,
  anonymiseInterval: '1d',
  anonymiseGroup: 'area',
  anonymiseNoise: null,
});

/** A partial policy as the API and CLI accept it; unset fields keep their value. */
export const policyPatch = z.strictObject({
  telemetryAction: z.enum(['delete', 'anonymise']).optional(),
  graceMonths: z.number().int().min(0).max(120).optional(),
  billingPeriodMonths: z.union([1, 2, 3, 4, 6, 12].map((n) => z.literal(n))).optional(),
  fiscalYearEndMonth: z.number().int().min(1).max(12).optional(),
  anonymiseK: z
    .number()
    .int()
    .min(MIN_ANONYMISE_K, `anonymiseK must be at least ${MIN_ANONYMISE_K}: smaller groups single devices out`)
    .max(1000)
    .optional(),
  anonymiseInterval: z.enum(['1h', '1d', '7d']).optional(),
  anonymiseGroup: z.enum(['area', 'contract']).optional(),
  anonymiseNoise: z
    .strictObject({
      epsilon: z
        .number()
        .min(EPSILON_RANGE.min, `epsilon must be at least ${EPSILON_RANGE.min}`)
        .max(EPSILON_RANGE.max, `epsilon must be at most ${EPSILON_RANGE.max}`),
    })
    .nullable()
    .optional(),
});
export type PolicyPatch = z.infer<typeof policyPatch>;

const COLUMNS = `contract_id AS "contractId", telemetry_action AS "telemetryAction", grace_months AS "graceMonths",
  billing_period_months AS "billingPeriodMonths", fiscal_year_end_month AS "fiscalYearEndMonth",
  anonymise_k AS "anonymiseK", anonymise_interval AS "anonymiseInterval",
  anonymise_group AS "anonymiseGroup", anonymise_epsilon AS "anonymiseEpsilon"`;

type Row = Omit<RetentionPolicy, 'anonymiseNoise'> & { contractId: string; anonymiseEpsilon: number | null };

function fromRow({ contractId: _c, anonymiseEpsilon, ...row }: Row): RetentionPolicy {
  return {
    ...row,
    graceMonths: Number(row.graceMonths),
    billingPeriodMonths: Number(row.billingPeriodMonths),
    fiscalYearEndMonth: Number(row.fiscalYearEndMonth),
    anonymiseK: Number(row.anonymiseK),
    anonymiseNoise: anonymiseEpsilon === null ? null : { epsilon: Number(anonymiseEpsilon) },
  };
}

/** The patch, checked; a refusal names the field and the bound it broke. */
function parsePatch(patch: unknown): PolicyPatch {
  const parsed = policyPatch.safeParse(patch);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`).join('; ');
  throw new SkjoldError('SKJOLD_ERR_VALIDATION', `retention policy: ${detail}`, { cause: parsed.error });
}

/** `date` (YYYY-MM-DD or a Date) plus whole calendar months, at 00:00 UTC; the day is clamped to the month's end. */
export function addMonths(date: string | Date, months: number): Date {
  const d = typeof date === 'string' ? new Date(`${date}T00:00:00Z`) : date;
  const first = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  return new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), Math.min(d.getUTCDate(), lastDay)));
}

/** The day telemetry of a contract ending on `endsOn` becomes due: the day after the end, plus the grace months. */
export function dueOn(endsOn: string, policy: RetentionPolicy): Date {
  return addMonths(new Date(Date.parse(`${endsOn}T00:00:00Z`) + 86_400_000), policy.graceMonths);
}

export function createRetentionPolicies(sql: SqlClient) {
  return {
    /** The contract's policy: its stored row, or the defaults. */
    async get(tenantId: string, contractId: string): Promise<RetentionPolicy> {
      const [row] = await sql.query<Row>(
        `SELECT ${COLUMNS} FROM retention_policies WHERE tenant_id = $1 AND contract_id = $2`,
        [tenantId, contractId],
      );
      return row ? fromRow(row) : { ...DEFAULT_POLICY };
    },

    /** Every stored policy of a tenant, by contract id (contracts without one use the defaults). */
    async forTenant(tenantId: string): Promise<Map<string, RetentionPolicy>> {
      const rows = await sql.query<Row>(`SELECT ${COLUMNS} FROM retention_policies WHERE tenant_id = $1`, [
        tenantId,
      ]);
      return new Map(rows.map((r) => [r.contractId, fromRow(r)]));
    },

    /** Applies a patch on top of the current policy and stores the result. */
    async set(tenantId: string, contractId: string, patch: PolicyPatch): Promise<RetentionPolicy> {
      const p = { ...(await this.get(tenantId, contractId)), ...parsePatch(patch) };
      try {
        await sql.query(
          `INSERT INTO retention_policies (tenant_id, contract_id, telemetry_action, grace_months,
             billing_period_months, fiscal_year_end_month, anonymise_k, anonymise_interval, anonymise_group,
             anonymise_epsilon)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (tenant_id, contract_id) DO UPDATE SET telemetry_action = $3, grace_months = $4,
             billing_period_months = $5, fiscal_year_end_month = $6, anonymise_k = $7, anonymise_interval = $8, anonymise_group = $9,
             anonymise_epsilon = $10, updated_at = now()`,
          [
            tenantId,
            contractId,
            p.telemetryAction,
            p.graceMonths,
            p.billingPeriodMonths,
            p.fiscalYearEndMonth,
            p.anonymiseK,
            p.anonymiseInterval,
            p.anonymiseGroup,
            p.anonymiseNoise?.epsilon ?? null,
          ],
        );
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === '23503')
          throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `contract ${contractId}`, { cause: err });
        if (code === '23514')
          throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'retention policy', { cause: err });
        throw new SkjoldError('SKJOLD_ERR_REGISTRY', 'retention policy', { cause: err });
      }
      return p;
    },
  };
}

export type RetentionPolicies = ReturnType<typeof createRetentionPolicies>;
