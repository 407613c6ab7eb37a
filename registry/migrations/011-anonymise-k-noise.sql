-- Anonymisation releases no individual value (docs/retention.md, "Anonymisation").
-- k is at least 5: a policy stored with a smaller k is raised to 5 here, in the
-- same transaction as the stricter check, so no run ever uses a smaller group.
UPDATE retention_policies SET anonymise_k = 5, updated_at = now() WHERE anonymise_k < 5;
ALTER TABLE retention_policies DROP CONSTRAINT retention_policies_anonymise_k_check;
ALTER TABLE retention_policies ADD CONSTRAINT retention_policies_anonymise_k_check
  CHECK (anonymise_k BETWEEN 5 AND 1000);

-- Optional Laplace noise on published sums and means: the privacy parameter ε
-- per group and release (retention/noise.ts). NULL: exact values.
ALTER TABLE retention_policies ADD COLUMN anonymise_epsilon double precision
  CHECK (anonymise_epsilon IS NULL OR anonymise_epsilon BETWEEN 0.01 AND 10);
