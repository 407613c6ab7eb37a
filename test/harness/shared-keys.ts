import { withTenantKeys } from '../../pseudonymizer/env-keys.ts';

/**
 * The SKJOLD_KEYS value for several instances, as an operator would put it
 * in a Secret: a key for each tenant plus the login domain. Instances that
 * share a registry must share these; a key file each would give each
 * instance its own pseudonyms.
 */
export function sharedKeys(tenantIds: readonly string[]): Promise<string> {
  return withTenantKeys('', tenantIds);
}
