-- Tenants, their contracts, devices and subjects. No raw identifier is stored:
-- devices are found by a keyed login hash and carry only keyed pseudonyms.

CREATE TABLE tenants (
  id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Art. 28 / art. 30: for every record we know whether we are controller or
-- processor, for which purpose and on which legal basis.
CREATE TABLE contracts (
  tenant_id     text NOT NULL REFERENCES tenants (id),
  id            text NOT NULL CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  role          text NOT NULL CHECK (role IN ('controller', 'processor')),
  purpose       text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 200),
  legal_basis   text NOT NULL CHECK (legal_basis IN ('contract', 'consent', 'legal_obligation',
                                                      'vital_interests', 'public_task', 'legitimate_interests')),
  starts_on     date NOT NULL,
  ends_on       date CHECK (ends_on IS NULL OR ends_on >= starts_on),
  jurisdiction  text NOT NULL CHECK (jurisdiction IN ('DK', 'SE')),
  -- Art. 5(1)(c): GPS is dropped unless the contract keeps it, at this many decimals.
  gps_decimals  smallint CHECK (gps_decimals BETWEEN 0 AND 3),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE devices (
  id               text PRIMARY KEY,
  tenant_id        text NOT NULL REFERENCES tenants (id),
  contract_id      text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('heat_meter', 'sim_unit', 'building_sensor')),
  -- Keyed hash of the login identifier in the operator's login domain: lets the
  -- broker find a device from its MQTT username without storing the username.
  login_hash       text NOT NULL UNIQUE,
  login_type       text NOT NULL,
  credential_hash  text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  disabled_at      timestamptz,
  FOREIGN KEY (tenant_id, contract_id) REFERENCES contracts (tenant_id, id)
);
CREATE INDEX devices_tenant ON devices (tenant_id);

-- Art. 4(5): one row per identifier and key version; the raw value is never kept.
CREATE TABLE device_pseudonyms (
  device_id    text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  key_version  integer NOT NULL CHECK (key_version > 0),
  id_type      text NOT NULL,
  pseudonym    text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, key_version, id_type)
);
CREATE INDEX device_pseudonyms_pseudonym ON device_pseudonyms (pseudonym);

-- A data subject is the tenant's own opaque reference (customer number, …).
CREATE TABLE subjects (
  tenant_id   text NOT NULL REFERENCES tenants (id),
  ref         text NOT NULL CHECK (length(ref) BETWEEN 1 AND 128),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, ref)
);

CREATE TABLE subject_devices (
  tenant_id    text NOT NULL,
  subject_ref  text NOT NULL,
  device_id    text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  linked_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subject_ref, device_id),
  FOREIGN KEY (tenant_id, subject_ref) REFERENCES subjects (tenant_id, ref) ON DELETE CASCADE
);
