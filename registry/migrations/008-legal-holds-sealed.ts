/**
 * Legal holds keep neither the subject's reference nor the reason in clear
 * (art. 25(1), 32(1)(a); retention/hold-sealing.ts): a subject hold's `target`
 * becomes the subject's keyed pseudonym, the reference is kept sealed in
 * `subject_sealed`, and `reason` is kept sealed. Rows written before are
 * converted here, in the same transaction as the change of schema, which is
 * why this migration is code: sealing needs each tenant's key.
 */
import { SkjoldError } from '../../lib/errors.ts';
import { sealHoldText } from '../../retention/hold-sealing.ts';
import type { MigrationContext } from '../migrate.ts';
import type { SqlTx } from '../sql.ts';

export async function up(tx: SqlTx, { sealer }: MigrationContext): Promise<void> {
  await tx.exec(`
    ALTER TABLE legal_holds DROP CONSTRAINT legal_holds_reason_check;
    ALTER TABLE legal_holds ADD COLUMN subject_sealed text;
  `);
  const rows = await tx.query<{
    id: string;
    tenantId: string;
    scope: string;
    target: string | null;
    reason: string;
  }>('SELECT id, tenant_id AS "tenantId", scope, target, reason FROM legal_holds ORDER BY id');
  if (rows.length > 0 && sealer === undefined) {
    throw new SkjoldError(
      'SKJOLD_ERR_MIGRATION',
      'legal holds to seal, and no tenant keys to seal them with',
    );
  }
  for (const row of rows) {
    const sealed = sealHoldText(sealer as NonNullable<typeof sealer>, row.tenantId, row.id, row);
    await tx.query('UPDATE legal_holds SET target = $2, subject_sealed = $3, reason = $4 WHERE id = $1', [
      row.id,
      sealed.target,
      sealed.subjectSealed,
      sealed.reason,
    ]);
  }
  // From now on the registry refuses a reason or subject stored in clear.
  await tx.exec(String.raw`
    ALTER TABLE legal_holds ADD CONSTRAINT legal_holds_reason_sealed
      CHECK (reason ~ '^v[0-9]+\.[A-Za-z0-9_-]+$');
    ALTER TABLE legal_holds ADD CONSTRAINT legal_holds_subject_sealed
      CHECK ((scope = 'subject') = (subject_sealed IS NOT NULL)
        AND (subject_sealed IS NULL OR subject_sealed ~ '^v[0-9]+\.[A-Za-z0-9_-]+$'));
  `);
}
