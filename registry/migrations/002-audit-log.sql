-- Append-only, hash-chained audit log. Each entry's hash covers its own
-- content and the previous entry's hash, so an edited, removed or reordered
-- entry breaks the chain (audit/audit-log.ts verifies it). Subjects and
-- devices appear only as pseudonyms.
CREATE TABLE audit_log (
  seq        bigint PRIMARY KEY CHECK (seq > 0),
  at         text NOT NULL,      -- ISO 8601, exactly as hashed
  actor      text NOT NULL,      -- 'operator', 'tenant:<id>/<token id>', 'retention', 'system'
  action     text NOT NULL,      -- 'subject.erase', 'retention.run', 'keys.rotate', …
  tenant_id  text,
  target     text,               -- a pseudonym, hold id, request id or contract id; never a raw identifier
  detail     text NOT NULL,      -- canonical JSON, exactly as hashed
  prev_hash  text NOT NULL,
  hash       text NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
