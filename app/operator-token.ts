import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../lib/config.ts';

export function operatorTokenFile(config: Config): string {
  return join(config.SKJOLD_DATA_DIR, 'operator-token');
}

/**
 * The operator's API token: SKJOLD_OPERATOR_TOKEN, or one generated on first
 * start into the data directory (mode 0600) so the CLI on the same machine can
 * read it.
 */
export async function operatorToken(config: Config): Promise<string> {
  if (config.SKJOLD_OPERATOR_TOKEN) return config.SKJOLD_OPERATOR_TOKEN;
  const file = operatorTokenFile(config);
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  const token = randomBytes(24).toString('base64url');
  await mkdir(config.SKJOLD_DATA_DIR, { recursive: true, mode: 0o700 });
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(
    async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    },
  );
  return (await readFile(file, 'utf8')).trim();
}
