import { randomBytes } from 'node:crypto';
import { LOGIN_DOMAIN } from '../registry/enrolment.ts';
import { AUDIT_DOMAIN, openKeyStore, parseEnvValue } from './keystore.ts';

/**
 * Several instances read their keys from one SKJOLD_KEYS value (a Secret),
 * which is read-only to them: a tenant's first key is added here, before the
 * tenant is registered, and the new value rolled out to every instance.
 * Returns the base64 of the key-file JSON with a version-1 key for each of
 * `tenantIds` (and the login and audit domains) that `current` lacks;
 * an audit key missing beside a login key is the one derived from it; keys already in
 * `current` are kept as they are.
 */
export async function withTenantKeys(
  current: string | undefined,
  tenantIds: readonly string[],
  now: Date = new Date(),
): Promise<string> {
  const text = current?.trim() ?? '';
  // Validated first, so a malformed value is refused by the key store's errors, which quote none of it.
  if (text !== '') await openKeyStore({ envValue: text });
  const file = (text === '' ? { format: 1, tenants: {} } : parseEnvValue(text)) as {
    tenants: Record<string, unknown>;
  };
  // A value from before the audit key derives it from its login key: written
  // down as it is, so the chain keyed under it still verifies.
  const auditKey =
    LOGIN_DOMAIN in file.tenants && !(AUDIT_DOMAIN in file.tenants)
      ? await (await openKeyStore({ envValue: text })).auditKey()
      : undefined;
  for (const id of [LOGIN_DOMAIN, AUDIT_DOMAIN, ...tenantIds]) {
    if (id in file.tenants) continue;
    const key = id === AUDIT_DOMAIN && auditKey ? auditKey : randomBytes(32);
    file.tenants[id] = {
      current: 1,
      keys: { 1: key.toString('base64') },
      created: { 1: now.toISOString() },
    };
  }
  const value = Buffer.from(JSON.stringify(file)).toString('base64');
  await openKeyStore({ envValue: value }); // validates the result, as every instance will
  return value;
}
