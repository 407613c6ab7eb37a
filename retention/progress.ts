import type { SqlClient } from '../registry/sql.ts';

/**
 * Finished retention steps, one row per (contract, device, step). Each step is
 * recorded only after it completed in InfluxDB, so a run killed halfway
 * resumes at the first unfinished step; a step interrupted before it was
 * recorded is redone, which is safe because every step is idempotent.
 */
export function createRetentionProgress(sql: SqlClient, tenantId: string) {
  return {
    /** Steps already done for a contract, as `${deviceId}/${step}` ('' device = the whole contract). */
    async done(contractId: string): Promise<Set<string>> {
      const rows = await sql.query<{ deviceId: string; step: string }>(
        `SELECT device_id AS "deviceId", step FROM retention_progress WHERE tenant_id = $1 AND contract_id = $2`,
        [tenantId, contractId],
      );
      return new Set(rows.map((r) => `${r.deviceId}/${r.step}`));
    },

    /** Contracts for which a whole-contract step is recorded. */
    async contractsWith(step: string): Promise<string[]> {
      const rows = await sql.query<{ contractId: string }>(
        `SELECT contract_id AS "contractId" FROM retention_progress WHERE tenant_id = $1 AND device_id = '' AND step = $2`,
        [tenantId, step],
      );
      return rows.map((r) => r.contractId);
    },

    /** The detail a finished step recorded, or undefined when it is not done. */
    async detail(contractId: string, deviceId: string, step: string): Promise<unknown> {
      const [row] = await sql.query<{ detail: string }>(
        `SELECT detail FROM retention_progress WHERE tenant_id = $1 AND contract_id = $2 AND device_id = $3 AND step = $4`,
        [tenantId, contractId, deviceId, step],
      );
      return row ? JSON.parse(row.detail) : undefined;
    },

    /** One step finished for many devices at once (one statement). */
    async recordMany(
      contractId: string,
      deviceIds: readonly string[],
      step: string,
      runId: string,
    ): Promise<void> {
      if (deviceIds.length === 0) return;
      await sql.query(
        `INSERT INTO retention_progress (tenant_id, contract_id, device_id, step, run_id, detail)
         SELECT $1, $2, d, $4, $5, '{}' FROM unnest($3::text[]) AS d ON CONFLICT DO NOTHING`,
        [tenantId, contractId, deviceIds, step, runId],
      );
    },

    async record(
      contractId: string,
      deviceId: string,
      step: string,
      runId: string,
      detail: Record<string, unknown>,
    ): Promise<void> {
      await sql.query(
        `INSERT INTO retention_progress (tenant_id, contract_id, device_id, step, run_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [tenantId, contractId, deviceId, step, runId, JSON.stringify(detail)],
      );
    },
  };
}

export type RetentionProgress = ReturnType<typeof createRetentionProgress>;
