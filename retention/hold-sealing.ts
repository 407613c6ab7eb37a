import type { Sealer } from '../requests/sealing.ts';

/** What a legal hold needs of the tenant's keys. */
export type HoldSealer = Pick<Sealer, 'seal' | 'unseal' | 'subjectPseudonym'>;

/** A legal hold's free text and subject as the registry stores them. */
export interface SealedHoldText {
  /** A subject hold: the subject's keyed pseudonym, which retention and erasure match on; else the target as given. */
  target: string | null;
  /** A subject hold: the subject's reference, sealed, so the operator is shown it again; else null. */
  subjectSealed: string | null;
  reason: string;
}

// Associated data binds each sealed value to its hold and column: moved to another row, it does not open.
const context = (holdId: string, column: 'reason' | 'subject') => `legal-hold:${holdId}:${column}`;

/**
 * Art. 25(1) and 32(1)(a): a hold's reason is free text that may name a
 * person (a complaint, a court case), and a subject hold names the tenant's
 * customer. The registry keeps neither in clear: the reason and the reference
 * are sealed under the tenant's key (kept apart from the registry), and the
 * subject is matched by its keyed pseudonym, as requests and the audit log
 * name it (docs/retention.md).
 */
export function sealHoldText(
  sealer: HoldSealer,
  tenantId: string,
  holdId: string,
  hold: { scope: string; target: string | null; reason: string },
): SealedHoldText {
  const subject = hold.scope === 'subject' && hold.target !== null;
  return {
    target: subject ? sealer.subjectPseudonym(tenantId, hold.target as string) : hold.target,
    subjectSealed: subject ? sealer.seal(tenantId, context(holdId, 'subject'), hold.target as string) : null,
    reason: sealer.seal(tenantId, context(holdId, 'reason'), hold.reason),
  };
}

/** The reason and target in clear, for the operator's API and the plans and receipts that name a hold. */
export function openHoldText(
  sealer: HoldSealer,
  tenantId: string,
  holdId: string,
  stored: SealedHoldText,
): { target: string | null; reason: string } {
  return {
    target:
      stored.subjectSealed === null
        ? stored.target
        : sealer.unseal(tenantId, context(holdId, 'subject'), stored.subjectSealed),
    reason: sealer.unseal(tenantId, context(holdId, 'reason'), stored.reason),
  };
}
