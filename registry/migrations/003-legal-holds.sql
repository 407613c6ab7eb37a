-- Legal holds stop deletion and anonymisation of what they cover (a tenant, a
-- subject or a device) until they are released or their `until` date passes.
CREATE TABLE legal_holds (
  id           text PRIMARY KEY,
  tenant_id    text NOT NULL REFERENCES tenants (id),
  scope        text NOT NULL CHECK (scope IN ('tenant', 'subject', 'device')),
  target       text,          -- subject ref or device id; null for a tenant hold
  reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  until        date,          -- null: until released
  created_at   timestamptz NOT NULL DEFAULT now(),
  released_at  timestamptz,
  CHECK ((scope = 'tenant') = (target IS NULL))
);
CREATE INDEX legal_holds_tenant ON legal_holds (tenant_id);
