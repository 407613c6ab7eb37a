import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SkjoldError } from '../lib/errors.ts';

/**
 * The key file on disk: read only when no one else may read it, replaced
 * atomically. Art. 32(1)(b): confidentiality of the means of processing.
 * Error messages name the file and its mode, never its contents — JSON.parse
 * errors quote their input, so they are not chained as causes.
 */

function keysError(detail: string, cause?: unknown): SkjoldError {
  return new SkjoldError('SKJOLD_ERR_KEYS', detail, cause === undefined ? undefined : { cause });
}

/** Reads the key file, or returns undefined when there is none. */
export async function readKeyFile(file: string): Promise<unknown> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw keysError(`cannot open key file ${file}`, err);
  }
  try {
    // fstat on the open handle: the mode checked is the mode of what is read.
    const st = await handle.stat();
    if (!st.isFile()) throw keysError(`key file ${file} is not a regular file`);
    // Art. 32(1): access control — a secret other users can read protects nothing.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw keysError(`key file ${file} has mode ${mode}, open to other users; fix with: chmod 600 ${file}`);
    }
    const text = await handle.readFile('utf8');
    try {
      return JSON.parse(text);
    } catch {
      throw keysError(`key file ${file} is not valid JSON`);
    }
  } finally {
    await handle.close();
  }
}

/** Write temp + fsync + rename: a crash leaves the old file or the new one, never half of one. */
export async function writeAtomically(file: string, data: string): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw keysError(`cannot write key file ${file}`, err);
  }
  // The rename is durable only once the directory entry is; not every platform can fsync a directory.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {}
}
