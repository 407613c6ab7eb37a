import { readFile } from 'node:fs/promises';
import { SkjoldError } from '../lib/errors.ts';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/**
 * Reads a listener's PEM certificate and key. Neither set: plain listener.
 * Only one set is a mistake that would silently leave the listener unencrypted,
 * so it stops Skjold instead (art. 32(1)(a): encryption in transit).
 */
export async function readTlsFiles(
  names: { cert: string; key: string },
  cert: string | undefined,
  key: string | undefined,
): Promise<TlsFiles | undefined> {
  if (!cert && !key) return undefined;
  if (!cert || !key) {
    throw new SkjoldError(
      'SKJOLD_ERR_CONFIG',
      `${names.cert} and ${names.key} are set together or not at all`,
    );
  }
  const read = (path: string, name: string) =>
    readFile(path).catch((err: unknown) => {
      throw new SkjoldError('SKJOLD_ERR_CONFIG', `${name}: cannot read ${path}`, { cause: err });
    });
  return { cert: await read(cert, names.cert), key: await read(key, names.key) };
}
