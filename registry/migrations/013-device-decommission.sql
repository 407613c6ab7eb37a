-- A decommissioned device's logins are refused for good (broker/authenticator.ts);
-- its registration, pseudonyms and data stay until retention or erasure removes them.
ALTER TABLE devices ADD COLUMN decommissioned_at timestamptz;
