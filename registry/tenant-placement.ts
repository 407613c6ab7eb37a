/**
 * Which InfluxDB server holds each tenant's telemetry (table tenant_stores,
 * migration 015). The store router reads it; a tenant move changes it in
 * three recorded steps — begin (writes go to the target), finish (reads go
 * there too, the old copy is to be dropped), dropped — so a move that was
 * interrupted is found where it stopped (docs/stores.md).
 */
import { SkjoldError } from '../lib/errors.ts';
import type { SqlClient } from './sql.ts';

export interface Placement {
  tenantId: string;
  store: string;
  /** A move in progress (or interrupted): writes go here, reads still to `store`. */
  movingTo: string | null;
  /** The store whose copy is still to be dropped after a finished move. */
  dropFrom: string | null;
}

interface Row {
  tenant_id: string;
  store: string;
  moving_to: string | null;
  drop_from: string | null;
}

const fromRow = (r: Row): Placement => ({
  tenantId: r.tenant_id,
  store: r.store,
  movingTo: r.moving_to,
  dropFrom: r.drop_from,
});

const COLUMNS = 'tenant_id, store, moving_to, drop_from';

export function createTenantPlacement(sql: SqlClient) {
  return {
    async all(): Promise<Placement[]> {
      return (await sql.query<Row>(`SELECT ${COLUMNS} FROM tenant_stores ORDER BY tenant_id`)).map(fromRow);
    },

    async get(tenantId: string): Promise<Placement | undefined> {
      const [row] = await sql.query<Row>(`SELECT ${COLUMNS} FROM tenant_stores WHERE tenant_id = $1`, [
        tenantId,
      ]);
      return row ? fromRow(row) : undefined;
    },

    /** Places a tenant that has no place yet; a tenant already placed keeps its place. */
    async place(tenantId: string, store: string): Promise<Placement> {
      await sql.query(
        'INSERT INTO tenant_stores (tenant_id, store) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING',
        [tenantId, store],
      );
      const placed = await this.get(tenantId);
      if (!placed) throw new SkjoldError('SKJOLD_ERR_REGISTRY', `placement of tenant ${tenantId}`);
      return placed;
    },

    /**
     * Records a move to `to`. Resuming the same move is allowed (the copy is
     * idempotent); a move elsewhere while one is recorded is refused.
     */
    async beginMove(tenantId: string, to: string, now: Date): Promise<Placement> {
      return sql.transaction(async (tx) => {
        const [row] = await tx.query<Row>(
          `SELECT ${COLUMNS} FROM tenant_stores WHERE tenant_id = $1 FOR UPDATE`,
          [tenantId],
        );
        if (!row) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `tenant ${tenantId} has no store`);
        if (row.moving_to !== null && row.moving_to !== to) {
          throw new SkjoldError(
            'SKJOLD_ERR_MOVE_RUNNING',
            `tenant ${tenantId} is moving to ${row.moving_to}; finish that move first`,
          );
        }
        if (row.store === to) return fromRow(row);
        const [updated] = await tx.query<Row>(
          `UPDATE tenant_stores SET moving_to = $2, move_started_at = COALESCE(move_started_at, $3)
           WHERE tenant_id = $1 RETURNING ${COLUMNS}`,
          [tenantId, to, now.toISOString()],
        );
        return fromRow(updated as Row);
      });
    },

    /** The copy on `to` is complete: reads go there too; the copy on the old store is to be dropped. */
    async finishMove(tenantId: string, from: string, to: string): Promise<Placement> {
      const [row] = await sql.query<Row>(
        `UPDATE tenant_stores SET store = $3, moving_to = NULL, move_started_at = NULL, drop_from = $2
         WHERE tenant_id = $1 AND store = $2 AND moving_to = $3 RETURNING ${COLUMNS}`,
        [tenantId, from, to],
      );
      if (!row)
        throw new SkjoldError('SKJOLD_ERR_MOVE_RUNNING', `tenant ${tenantId}: the move changed under it`);
      return fromRow(row);
    },

    async dropped(tenantId: string): Promise<void> {
      await sql.query('UPDATE tenant_stores SET drop_from = NULL WHERE tenant_id = $1', [tenantId]);
    },
  };
}

export type TenantPlacement = ReturnType<typeof createTenantPlacement>;
