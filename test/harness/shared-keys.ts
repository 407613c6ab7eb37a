import { randomBytes } from 'node:crypto';
import { LOGIN_DOMAIN } from '../../registry/enrolment.ts';

/**
 * The contents of SKJOLD_KEYS for several instances: one key per tenant plus
 * the login domain, as an operator would put them in a Secret. Instances
 * that share a registry must share these; a key file each would give each
 * instance its own pseudonyms.
 */
export function sharedKeys(tenantIds: readonly string[]): string {
  const created = new Date().toISOString();
  const tenants = Object.fromEntries(
    [LOGIN_DOMAIN, ...tenantIds].map((id) => [
      id,
      { current: 1, keys: { 1: randomBytes(32).toString('base64') }, created: { 1: created } },
    ]),
  );
  return JSON.stringify({ format: 1, tenants });
}
