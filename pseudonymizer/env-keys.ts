import { randomBytes } from 'node:crypto';
import { LOGIN_DOMAIN } from '../registry/enrolment.ts';
import { AUDIT_DOMAIN, openKeyStore } from './keystore.ts';

/**
 * Several instances read their keys from one SKJOLD_KEYS value (a Secret),
 * which is read-only to them: a tenant's first key is added here, before the
 * tenant is registered, and the new value rolled out to every instance.
 * Returns the base64 of the key-file JSON with a version-1 key for each of
 * `tenantIds` (and the login and audit domains) that `current` lacks; keys already in
 * `current` are kept as they are.
 */
export async function withTenantKeys(
  current: string | undefined,
  tenantIds: readonly string[],
  now: Date = new Date(),
): Promise<string> {
  const text = current?.trim() ?? '';
  const file = text === '' ? { format: 1, tenants: {} } : JSON.parse(decodeValue(text));
  for (const id of [LOGIN_DOMAIN, AUDIT_DOMAIN, ...tenantIds]) {
    if (id in file.tenants) continue;
    file.tenants[id] = {
      current: 1,
      keys: { 1: randomBytes(32).toString('base64') },
      created: { 1: now.toISOString() },
    };
  }
  const value = Buffer.from(JSON.stringify(file)).toString('base64');
  await openKeyStore({ envValue: value }); // validates the result, as every instance will
  return value;
}

function decodeValue(text: string): string {
  return text.startsWith('{') ? text : Buffer.from(text, 'base64').toString('utf8');
}
