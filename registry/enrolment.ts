import { createHmac, randomUUID } from 'node:crypto';
import { generateSecret, hashSecret } from '../broker/credentials.ts';
import type { DeviceKind } from '../lib/device-kinds.ts';
import { SkjoldError } from '../lib/errors.ts';
import { canonicalise, type IdentifierType } from '../pseudonymizer/identifiers.ts';
import type { KeyStore } from '../pseudonymizer/keystore.ts';
import type { Pseudonymizer } from '../pseudonymizer/pseudonymizer.ts';
import type { PseudonymRow, Registry } from './registry.ts';

/** Which identifier a device of each kind logs in with (its MQTT username). */
export const LOGIN_TYPE = {
  sim_unit: 'iccid',
  heat_meter: 'wmbus',
  building_sensor: 'serial',
} as const satisfies Record<DeviceKind, IdentifierType | 'serial'>;

export type DeviceIdentifierType = IdentifierType | 'serial';
export type LoginType = (typeof LOGIN_TYPE)[DeviceKind];
export const DEVICE_IDENTIFIER_TYPES = [
  'iccid',
  'imsi',
  'imei',
  'imeisv',
  'msisdn',
  'wmbus',
  'serial',
] as const;

/**
 * The operator's own pseudonymisation domain for logins: the broker finds a
 * device from its MQTT username through this keyed hash, so the registry
 * never holds the username itself. Tenant ids cannot start with '_'.
 */
export const LOGIN_DOMAIN = '_login';

/**
 * The canonical form of a registered identifier. A building sensor's serial
 * is its MQTT username and so a topic level too: no '/', '+', '#' or spaces.
 */
export function normaliseIdentifier(type: DeviceIdentifierType, value: string): string {
  const v = canonicalise(type, value);
  if (type === 'serial' && !/^[A-Z0-9][A-Z0-9._-]{3,63}$/.test(v)) {
    throw new SkjoldError(
      'SKJOLD_ERR_IDENTIFIER_INVALID',
      'a serial is 4–64 letters, digits, dots, hyphens or underscores',
    );
  }
  return v;
}

export interface DeviceInput {
  kind: DeviceKind;
  contractId: string;
  identifiers: Partial<Record<DeviceIdentifierType, string>>;
  secret?: string | undefined;
  /** Building or postcode area (free text, not an identifier): retention's anonymisation group. */
  area?: string | undefined;
}

export interface EnrolmentDeps {
  registry: Registry;
  keyStore: KeyStore;
  pseudonymizer: Pseudonymizer;
}

export function createEnrolment({ registry, keyStore, pseudonymizer }: EnrolmentDeps) {
  async function loginHash(login: string): Promise<string> {
    await keyStore.ensureTenant(LOGIN_DOMAIN);
    return createHmac('sha256', keyStore.secret(LOGIN_DOMAIN, 1)).update(login).digest('base64url');
  }

  return {
    loginHash,

    /**
     * Registers a device: identifiers are validated, normalised, pseudonymised
     * under the tenant's current key and forgotten. Returns the secret once.
     */
    async register(
      tenantId: string,
      input: DeviceInput,
    ): Promise<{ id: string; secret: string; pseudonym: string }> {
      const contract = await registry.getContract(tenantId, input.contractId);
      if (!contract) throw new SkjoldError('SKJOLD_ERR_NOT_FOUND', `contract ${input.contractId}`);
      const loginType = LOGIN_TYPE[input.kind];
      const login = input.identifiers[loginType];
      if (!login) throw new SkjoldError('SKJOLD_ERR_VALIDATION', `a ${input.kind} needs its ${loginType}`);

      await keyStore.ensureTenant(tenantId);
      const keyVersion = keyStore.currentVersion(tenantId);
      const pseudonyms: PseudonymRow[] = [];
      let devicePseudonym = '';
      let normalisedLogin = '';
      for (const type of DEVICE_IDENTIFIER_TYPES) {
        const raw = input.identifiers[type];
        if (raw === undefined) continue;
        const value = normaliseIdentifier(type, raw);
        const pseudonym = pseudonymizer.pseudonym(tenantId, type, value, keyVersion);
        pseudonyms.push({ keyVersion, idType: type, pseudonym });
        if (type === loginType) {
          devicePseudonym = pseudonym;
          normalisedLogin = value;
        }
      }
      const secret = input.secret ?? generateSecret();
      if (secret.length < 16)
        throw new SkjoldError('SKJOLD_ERR_VALIDATION', 'a device secret needs at least 16 characters');
      const id = randomUUID();
      await registry.createDevice({
        id,
        tenantId,
        contractId: contract.id,
        kind: input.kind,
        loginHash: await loginHash(normalisedLogin),
        loginType,
        credentialHash: await hashSecret(secret),
        pseudonyms,
        area: input.area ?? null,
      });
      return { id, secret, pseudonym: devicePseudonym };
    },
  };
}

export type Enrolment = ReturnType<typeof createEnrolment>;
