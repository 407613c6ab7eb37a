-- Crypto-shredding at the end of retention (docs/retention.md): a run destroys the
-- tenant's old key versions nothing needs any more when a due contract asks for it.
ALTER TABLE retention_policies ADD COLUMN shred_keys_after_retention boolean NOT NULL DEFAULT false;
