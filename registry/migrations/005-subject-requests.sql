-- Data-subject requests (art. 12–22): tenant API tokens, requests with their
-- deadlines, sealed identifiers, restrictions, objections and special-category
-- notes. Subjects appear in requests only as a keyed pseudonym of their ref,
-- so a request's record outlives the subject's erasure without naming it.

-- Tenants authenticate with scoped tokens; only a SHA-256 of each is kept.
CREATE TABLE tenant_tokens (
  id          text PRIMARY KEY,
  tenant_id   text NOT NULL REFERENCES tenants (id),
  token_hash  text NOT NULL UNIQUE,
  scopes      text NOT NULL,          -- space-separated
  label       text CHECK (label IS NULL OR length(label) <= 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX tenant_tokens_tenant ON tenant_tokens (tenant_id);

-- Art. 12(3): answered within one month of receipt, extendable by two more.
CREATE TABLE subject_requests (
  id                text PRIMARY KEY,
  tenant_id         text NOT NULL REFERENCES tenants (id),
  subject           text NOT NULL,    -- keyed pseudonym of the subject ref
  kind              text NOT NULL CHECK (kind IN ('access', 'portability', 'erasure', 'restriction',
                                                  'restriction_lift', 'objection', 'consent_withdrawal',
                                                  'rectification')),
  status            text NOT NULL CHECK (status IN ('open', 'extended', 'completed', 'refused')),
  received_at       timestamptz NOT NULL,
  due_at            timestamptz NOT NULL,
  extended_months   smallint NOT NULL DEFAULT 0 CHECK (extended_months BETWEEN 0 AND 2),
  extension_reason  text CHECK (extension_reason IS NULL OR length(extension_reason) BETWEEN 1 AND 1000),
  completed_at      timestamptz,
  outcome           text              -- JSON: what was done (counts, audit seq); no raw identifier
);
CREATE INDEX subject_requests_due ON subject_requests (tenant_id, status, due_at);

-- A device's identifiers as the tenant gave them, sealed (AES-256-GCM under a
-- key derived from the tenant's secret in the key store): only that tenant's
-- own exports unseal them. Erasure deletes them.
CREATE TABLE sealed_identifiers (
  tenant_id  text NOT NULL REFERENCES tenants (id),
  device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  id_type    text NOT NULL,
  sealed     text NOT NULL,
  PRIMARY KEY (device_id, id_type)
);

-- Art. 18: kept, but out of every view but the tenant's own. Lifting deletes the row.
CREATE TABLE subject_restrictions (
  tenant_id    text NOT NULL,
  subject_ref  text NOT NULL,
  since        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, subject_ref),
  FOREIGN KEY (tenant_id, subject_ref) REFERENCES subjects (tenant_id, ref) ON DELETE CASCADE
);

-- Art. 21 objection and art. 7(3) consent withdrawal, per purpose.
CREATE TABLE subject_objections (
  tenant_id    text NOT NULL,
  subject_ref  text NOT NULL,
  purpose      text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 200),
  basis        text NOT NULL CHECK (basis IN ('objection', 'consent_withdrawal')),
  since        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, subject_ref, purpose),
  FOREIGN KEY (tenant_id, subject_ref) REFERENCES subjects (tenant_id, ref) ON DELETE CASCADE
);

-- Art. 9(2)(a): special-category data only with explicit consent, sealed at rest.
CREATE TABLE subject_special_category (
  id                text PRIMARY KEY,
  tenant_id         text NOT NULL,
  subject_ref       text NOT NULL,
  category          text NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
  sealed_note       text NOT NULL,
  consent_given_at  timestamptz NOT NULL,
  consent_text      text NOT NULL CHECK (length(consent_text) BETWEEN 1 AND 2000),
  created_at        timestamptz NOT NULL,
  FOREIGN KEY (tenant_id, subject_ref) REFERENCES subjects (tenant_id, ref) ON DELETE CASCADE
);
