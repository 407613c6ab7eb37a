import { SkjoldError } from '../lib/errors.ts';
import { describePeriod, type OccupancyPeriod } from '../registry/registry.ts';
import { keepMoveOutReading } from '../retention/billing.ts';
import { drainedWithin } from '../transport/transport.ts';
import type { Actor, Rights } from './rights.ts';

/** How long a move-out waits for readings in transit before it reads the meter's register. */
const DRAIN_DEADLINE_MS = 60_000;

export interface MoveOut {
  /** The subject's keyed pseudonym. */
  subject: string;
  device: string;
  period: OccupancyPeriod;
  /** The heat meter's register at the move, kept as a billing reading; null when there is none (or no meter). */
  billingReading: { time: string; energy_kwh?: number; volume_m3?: number } | null;
}

/**
 * A move-out: closes the subject's open occupancy period of a device at `at`,
 * so the next occupant's period can start there, and for a heat meter keeps
 * the register at the move as a billing reading (both occupants' bills are
 * made up from it; art. 17(3)(b) keeps it through either's erasure).
 */
export async function moveOut(
  rights: Rights,
  actor: Actor,
  tenantId: string,
  ref: string,
  deviceId: string,
  at: Date,
): Promise<MoveOut> {
  const { deps } = rights;
  await rights.subjects.require(tenantId, ref);
  const device = await deps.registry.getDevice(tenantId, deviceId);
  if (!device) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'device');
  // The register is read when the move has happened: a reading from before it would bill the wrong occupant.
  if (at.getTime() > deps.clock().getTime())
    throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'a move-out is recorded once the move date has come');
  const period = await deps.registry.closeSubjectPeriod(tenantId, ref, device.id, at);
  if (!period) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', 'open occupancy period of the device');
  // Art. 21: the subject's objections stop at the move; the next occupant's readings are stored.
  await deps.objections?.refresh();

  let billingReading: MoveOut['billingReading'] = null;
  if (device.kind === 'heat_meter') {
    await drainedWithin(deps.transport, DRAIN_DEADLINE_MS);
    billingReading = await keepMoveOutReading(
      deps.store,
      tenantId,
      { devicePseudonyms: await rights.subjects.loginPseudonyms(device), contractId: device.contractId },
      { from: period.from === null ? null : new Date(period.from), at },
    );
  }
  const subject = rights.sealer.subjectPseudonym(tenantId, ref);
  await deps.audit.append({
    actor,
    action: 'subject.move_out',
    tenantId,
    target: subject,
    detail: { device: device.id, period: describePeriod(period), billingReading: billingReading !== null },
  });
  return { subject, device: device.id, period, billingReading };
}
