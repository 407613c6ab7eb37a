#!/usr/bin/env node
/**
 * Prints a SKJOLD_KEYS value for several instances: the value on stdin (empty
 * for a new installation) plus a first key for each tenant named.
 *
 *   node scripts/keys-env.ts nordvarme fjordnet < /dev/null > keys.b64
 *   kubectl -n skjold get secret skjold-keys -o jsonpath='{.data.keys}' | base64 -d \
 *     | node scripts/keys-env.ts newtenant > keys.b64
 *
 * With `--destroy TENANT:VERSION`, prints the value without that key version
 * instead (crypto-shredding, docs/retention.md):
 *
 *   ... | node scripts/keys-env.ts --destroy nordvarme:1 > keys.b64
 */
import { text } from 'node:stream/consumers';
import { withoutKeyVersion, withTenantKeys } from '../pseudonymizer/env-keys.ts';

const current = process.stdin.isTTY ? '' : await text(process.stdin);
const args = process.argv.slice(2);
if (args[0] === '--destroy') {
  const m = /^([^:]+):([1-9]\d*)$/.exec(args[1] ?? '');
  if (!m) {
    process.stderr.write('usage: keys-env.ts --destroy TENANT:VERSION < current > new\n');
    process.exit(2);
  }
  process.stdout.write(`${await withoutKeyVersion(current.trim(), m[1] as string, Number(m[2]))}\n`);
} else {
  process.stdout.write(`${await withTenantKeys(current, args)}\n`);
}
