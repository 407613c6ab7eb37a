#!/usr/bin/env node
/**
 * Prints a SKJOLD_KEYS value for several instances: the value on stdin (empty
 * for a new installation) plus a first key for each tenant named.
 *
 *   node scripts/keys-env.ts nordvarme fjordnet < /dev/null > keys.b64
 *   kubectl -n skjold get secret skjold-keys -o jsonpath='{.data.keys}' | base64 -d \
 *     | node scripts/keys-env.ts newtenant > keys.b64
 */
import { text } from 'node:stream/consumers';
import { withTenantKeys } from '../pseudonymizer/env-keys.ts';

const current = process.stdin.isTTY ? '' : await text(process.stdin);
process.stdout.write(`${await withTenantKeys(current, process.argv.slice(2))}\n`);
