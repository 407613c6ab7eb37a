-- When each device last sent a message, so fleet health on a freshly started
-- instance knows which devices have gone silent. Written by each instance at
-- most once a minute per device (fleet/last-seen.ts); a time, never a payload.
ALTER TABLE devices ADD COLUMN last_seen_at timestamptz;
