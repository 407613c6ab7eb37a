-- People who sign in to the console: the operator's staff, and tenant users
-- the operator creates (a tenant admin or the tenant's data-protection
-- officer). Passwords are kept only as scrypt hashes; sessions and one-time
-- sign-in codes only as SHA-256 of the random secret the browser holds.
CREATE TABLE console_users (
  username       text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9._-]{1,62}$'),
  role           text NOT NULL CHECK (role IN ('operator', 'tenant_admin', 'tenant_dpo')),
  tenant_id      text REFERENCES tenants (id),
  password_hash  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  disabled_at    timestamptz,
  CHECK ((role = 'operator') = (tenant_id IS NULL))
);

CREATE TABLE console_sessions (
  id_hash     text PRIMARY KEY,
  username    text NOT NULL REFERENCES console_users (username),
  csrf_token  text NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  ended_at    timestamptz
);
CREATE INDEX console_sessions_user ON console_sessions (username);

-- A sign-in code works once, within minutes (`skjold start` prints one).
CREATE TABLE console_signin_codes (
  code_hash   text PRIMARY KEY,
  username    text NOT NULL REFERENCES console_users (username),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
