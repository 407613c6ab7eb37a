-- Where each tenant's telemetry lives: the name of one of the configured
-- InfluxDB servers (SKJOLD_INFLUX_STORES, docs/stores.md). A move in progress
-- records its target, so writes keep going to the target after a restart and
-- the move can be resumed; drop_from names a store whose old copy is still to
-- be dropped once the move finished.
CREATE TABLE tenant_stores (
  tenant_id        text PRIMARY KEY,
  store            text NOT NULL,
  moving_to        text,
  move_started_at  timestamptz,
  drop_from        text,
  CHECK (moving_to IS NULL OR moving_to <> store)
);
-- Every tenant so far lives on the one server there was: SKJOLD_INFLUX_URL, named `default`.
INSERT INTO tenant_stores (tenant_id, store) SELECT id, 'default' FROM tenants;
