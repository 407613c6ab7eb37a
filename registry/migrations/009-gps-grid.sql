-- Art. 5(1)(c): GPS is kept only as the centre of a grid cell of a stated size
-- in metres (ingest/gps-grid.ts), no longer rounded to decimals of a degree.
-- A contract that kept d decimals gets a cell as tall as a 10^-d degree step
-- of latitude (3 decimals: 111 m); cells are as wide or wider than before.
ALTER TABLE contracts ADD COLUMN gps_grid_m integer CHECK (gps_grid_m BETWEEN 100 AND 500000);
UPDATE contracts SET gps_grid_m = GREATEST(100, round(111320 / power(10, gps_decimals)))::integer
  WHERE gps_decimals IS NOT NULL;
ALTER TABLE contracts DROP COLUMN gps_decimals;
