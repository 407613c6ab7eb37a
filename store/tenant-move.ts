/**
 * Moves a tenant's telemetry to another configured store, losing nothing
 * acknowledged and writing no reading twice (docs/stores.md):
 *
 *   1. record the move; writes switch to the target (reads stay on the source)
 *   2. wait until no write can still reach the source: this instance's are
 *      awaited, other instances see the placement within their refresh interval
 *   3. copy the source series by series; compare counts; copy again if short
 *   4. record the end: reads switch to the target
 *   5. drop the source database, and record that too
 *
 * Each step is in the registry before the next begins, so a move that was
 * killed is resumed by running it again; until then writes go to the target
 * and reads to the source, and nothing is lost or dropped.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../lib/clock.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { TenantPlacement } from '../registry/tenant-placement.ts';
import { quoteIdentifier } from './influxql.ts';
import type { StoreRouter } from './store-router.ts';
import { type CopyReport, copyTenant, missingOnTarget } from './tenant-copy.ts';

export interface TenantMoverOptions {
  router: StoreRouter;
  placement: Pick<TenantPlacement, 'beginMove' | 'finishMove' | 'dropped'>;
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
  logger: Logger;
  /** How long other instances may still use a placement a move replaced, ms (their refresh interval). */
  settleMs: number;
  batchPoints: number;
}

export interface MoveReport extends CopyReport {
  tenant: string;
  from: string;
  to: string;
  /** False when the tenant was already on `to` (only a leftover old copy, if any, was dropped). */
  moved: boolean;
  /** The store whose copy was dropped, if one was. */
  dropped: string | null;
}

// Copies that come up short are repeated this often before the move stops.
const COPY_ATTEMPTS = 3;

export function createTenantMover(options: TenantMoverOptions) {
  const { router, placement, audit, logger } = options;
  const running = new Set<string>();
  const settle = () =>
    options.settleMs > 0 ? new Promise((r) => setTimeout(r, options.settleMs)) : Promise.resolve();

  async function dropOld(tenantId: string, from: string): Promise<void> {
    const db = quoteIdentifier(router.databaseFor(tenantId));
    await router.store(from).execute(tenantId, `DROP DATABASE ${db}`);
    await placement.dropped(tenantId);
  }

  async function copyVerified(tenantId: string, from: string, to: string): Promise<CopyReport> {
    const source = router.store(from);
    const target = router.store(to);
    for (let attempt = 1; ; attempt++) {
      const report = await copyTenant({
        tenantId,
        from: source,
        to: target,
        batchPoints: options.batchPoints,
        exclusive: (fn) => router.exclusive(tenantId, fn),
      });
      const short = await missingOnTarget(tenantId, source, target);
      if (short.length === 0) return report;
      logger.warn(
        { tenant: tenantId, attempt, short: short.length },
        'tenant move: copy short, copying again',
      );
      if (attempt >= COPY_ATTEMPTS) {
        const first = short[0];
        throw new SkjoldError(
          'SKJOLD_ERR_MOVE_VERIFY',
          `${short.length} series short on ${to}, e.g. ${first?.key}: ${first?.target} of ${first?.source}`,
        );
      }
    }
  }

  async function move(tenantId: string, to: string): Promise<MoveReport> {
    router.store(to);
    await router.ensureTenant(tenantId);
    const start = await router.placementOf(tenantId);
    const from = start.store;
    if (from === to && start.movingTo === null) {
      // Already there; a move killed after its switch left the old copy to drop.
      const leftover = start.dropFrom;
      if (leftover !== null) {
        await settle();
        await dropOld(tenantId, leftover);
        await router.update({ ...start, dropFrom: null });
      }
      return {
        tenant: tenantId,
        from,
        to,
        moved: false,
        dropped: leftover,
        measurements: 0,
        series: 0,
        points: 0,
      };
    }
    await router.store(to).ensureTenant(tenantId);
    const begun = await placement.beginMove(tenantId, to, options.clock());
    await audit.append({
      actor: 'operator',
      action: 'tenant.move.start',
      tenantId,
      target: tenantId,
      detail: { from, to, resumed: start.movingTo === to },
    });
    // Under the tenant's lock: no erasure is halfway between the two stores when writes switch.
    await router.exclusive(tenantId, () => router.update(begun));
    await settle();
    logger.info({ tenant: tenantId, from, to }, 'tenant move: writes on the target, copying');
    const report = await copyVerified(tenantId, from, to);
    const finished = await placement.finishMove(tenantId, from, to);
    await router.exclusive(tenantId, () => router.update(finished));
    // Readers elsewhere may still query the old copy until they refresh.
    await settle();
    await dropOld(tenantId, from);
    await router.update({ ...finished, dropFrom: null });
    await audit.append({
      actor: 'operator',
      action: 'tenant.move',
      tenantId,
      target: tenantId,
      detail: { from, to, ...report },
    });
    logger.info({ tenant: tenantId, from, to, ...report }, 'tenant moved');
    return { tenant: tenantId, from, to, moved: true, dropped: from, ...report };
  }

  return {
    /** Moves the tenant to store `to`, or resumes its interrupted move there. */
    async move(tenantId: string, to: string): Promise<MoveReport> {
      // One move of a tenant at a time in this process; the registry refuses a move elsewhere meanwhile.
      if (running.has(tenantId)) {
        throw new SkjoldError('SKJOLD_ERR_MOVE_RUNNING', `tenant ${tenantId} is moving`);
      }
      running.add(tenantId);
      try {
        return await move(tenantId, to);
      } finally {
        running.delete(tenantId);
      }
    },
    /** Tenants whose move runs in this process now. */
    moving: (): string[] => [...running],
  };
}

export type TenantMover = ReturnType<typeof createTenantMover>;
