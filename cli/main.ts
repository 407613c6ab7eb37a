import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.ts';
import { isSkjoldError } from '../lib/errors.ts';
import { ApiError } from './api-client.ts';
import type { Command } from './command-kit.ts';
import { COMMANDS, USAGE } from './commands.ts';

/**
 * `skjold <command> [subcommand] [options]`. Every command but `start` talks
 * to a running Skjold over its HTTP API, the same door operators' own tooling
 * uses. Returns the exit code.
 */
export async function main(argv: string[]): Promise<number> {
  const [first, second] = argv;
  const entry =
    COMMANDS.find((c) => c.name === `${first} ${second}`) ??
    COMMANDS.find((c) => c.name === first && !c.name.includes(' '));
  if (!entry || first === 'help' || first === '--help') {
    process.stdout.write(USAGE);
    return entry || first === 'help' || first === '--help' ? 0 : 2;
  }
  const rest = argv.slice(entry.name.split(' ').length);
  try {
    const { values, positionals } = parseArgs({ args: rest, options: entry.options, allowPositionals: true });
    const config = loadConfig();
    const code = await entry.run({
      values: values as Command['values'],
      positionals,
      config,
      readFile: (p) => readFile(p, 'utf8'),
    });
    return code ?? 0;
  } catch (err) {
    if (err instanceof ApiError || isSkjoldError(err)) {
      process.stderr.write(`skjold ${entry.name}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`skjold ${entry.name}: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if ((err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') {
      process.stderr.write(
        `skjold ${entry.name}: no Skjold answers at the API address; is \`skjold start\` running?\n`,
      );
      return 1;
    }
    const tlsCode = (err as { cause?: { code?: string } }).cause?.code ?? '';
    if (/CERT|SIGNATURE|ISSUER/.test(tlsCode)) {
      // An HTTPS API whose certificate this machine does not trust (docs/tls.md).
      process.stderr.write(
        `skjold ${entry.name}: the API's TLS certificate is not trusted (${tlsCode}); name its CA in NODE_EXTRA_CA_CERTS\n`,
      );
      return 1;
    }
    throw err;
  }
}
