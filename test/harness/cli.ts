import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Stack } from './stack.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/skjold.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `skjold <args>` as an operator would, against a test stack's API; never throws on a non-zero exit. */
export function runCli(stack: Stack, ...args: string[]): Promise<CliResult> {
  return runCliWithEnv(stack, {}, ...args);
}

/** `runCli` with more environment variables (e.g. NODE_EXTRA_CA_CERTS for an HTTPS API, SKJOLD_PROGRESS). */
export async function runCliWithEnv(
  stack: Stack,
  extraEnv: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<CliResult> {
  const env = {
    ...process.env,
    SKJOLD_API_URL: stack.apiUrl,
    SKJOLD_OPERATOR_TOKEN: stack.config.SKJOLD_OPERATOR_TOKEN,
    SKJOLD_DATA_DIR: stack.config.SKJOLD_DATA_DIR,
    ...extraEnv,
  };
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as CliResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
