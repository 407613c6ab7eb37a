-- Occupancy periods: a heat meter stays in a flat while its occupants change,
-- a SIM unit passes to the next employee. A subject is linked to a device for
-- a period [valid_from, valid_to) only, so an export (art. 15, 20) holds only
-- that subject's readings and an erasure (art. 17) deletes only those.
-- NULL valid_from: from the beginning of time; NULL valid_to: still occupying.
-- Links made before periods existed become open at both ends: they cover the
-- device's whole history, as they did.
ALTER TABLE subject_devices ADD COLUMN valid_from timestamptz;
ALTER TABLE subject_devices ADD COLUMN valid_to timestamptz;
ALTER TABLE subject_devices ADD CONSTRAINT subject_devices_period
  CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_to > valid_from);
-- A subject may occupy the same device more than once (moves out, moves back in).
ALTER TABLE subject_devices DROP CONSTRAINT subject_devices_pkey;
ALTER TABLE subject_devices ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX subject_devices_subject ON subject_devices (tenant_id, subject_ref);
-- The overlap check (one occupant at a time) reads a device's periods.
CREATE INDEX subject_devices_device ON subject_devices (device_id);
