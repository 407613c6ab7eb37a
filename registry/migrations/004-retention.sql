-- Retention (docs/retention.md): each contract's policy, the group attribute
-- anonymisation aggregates by, and the progress of runs so a killed run resumes.

-- Building or postcode area, free text chosen by the tenant: the group k-anonymous
-- aggregates are formed over. Not an identifier; optional.
ALTER TABLE devices ADD COLUMN area text CHECK (area IS NULL OR length(area) BETWEEN 1 AND 100);

-- One row per contract whose policy differs from the defaults (retention/policy.ts).
CREATE TABLE retention_policies (
  tenant_id               text NOT NULL,
  contract_id             text NOT NULL,
  telemetry_action        text NOT NULL CHECK (telemetry_action IN ('delete', 'anonymise')),
  grace_months            smallint NOT NULL CHECK (grace_months BETWEEN 0 AND 120),
  billing_period_months   smallint NOT NULL CHECK (billing_period_months IN (1, 2, 3, 4, 6, 12)),
  fiscal_year_end_month   smallint NOT NULL CHECK (fiscal_year_end_month BETWEEN 1 AND 12),
  anonymise_k             smallint NOT NULL CHECK (anonymise_k BETWEEN 2 AND 1000),
  anonymise_interval      text NOT NULL CHECK (anonymise_interval IN ('1h', '1d', '7d')),
  anonymise_group         text NOT NULL DEFAULT 'area' CHECK (anonymise_group IN ('area', 'contract')),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, contract_id),
  FOREIGN KEY (tenant_id, contract_id) REFERENCES contracts (tenant_id, id)
);

-- Finished steps of retention runs: (contract, device, step). A re-run skips
-- what is here; device_id is '' for a step of the whole contract.
CREATE TABLE retention_progress (
  tenant_id    text NOT NULL,
  contract_id  text NOT NULL,
  device_id    text NOT NULL,
  step         text NOT NULL,
  run_id       text NOT NULL,
  detail       text NOT NULL,   -- JSON: counts, never an identifier
  done_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, contract_id, device_id, step)
);
