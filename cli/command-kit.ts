import type { ParseArgsConfig } from 'node:util';
import { operatorToken } from '../app/operator-token.ts';
import { cliApiUrl } from '../lib/api-url.ts';
import type { Config } from '../lib/config.ts';
import { createApiClient } from './api-client.ts';

/** What every command is given: its parsed options and the loaded configuration. */
export interface Command {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  config: Config;
  readFile: (path: string) => Promise<string>;
}

export interface Entry {
  name: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Resolves to the exit code when it is not 0. */
  // biome-ignore lint/suspicious/noConfusingVoidType: most commands print and return nothing
  run: (cmd: Command) => Promise<number | void>;
}

export const str = { type: 'string' } as const;
export const flag = { type: 'boolean' } as const;

export const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** The value of a required option; a missing one is a usage error (exit 2 with the usage text). */
export function need(cmd: Command, name: string): string {
  const v = cmd.values[name];
  if (typeof v !== 'string' || v === '')
    throw Object.assign(new Error(`--${name} is required`), { code: 'ERR_PARSE_ARGS_MISSING' });
  return v;
}

/** A client of the running Skjold's API with the operator's token. */
export async function apiFor(config: Config) {
  return createApiClient({ url: cliApiUrl(config), token: await operatorToken(config) });
}
