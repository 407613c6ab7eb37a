import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkjoldError } from '../lib/errors.ts';

/**
 * One process per spool directory: two appending to the same segments would
 * interleave frames and each would checkpoint past the other's records. The
 * lock file holds the owner's pid; a lock whose process is gone (SIGKILL,
 * power loss) is taken over. Our own pid counts as gone: in a container the
 * restarted process often has the dead one's pid.
 */
export async function lockSpoolDir(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'lock');
  try {
    await writeFile(file, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new SkjoldError('SKJOLD_ERR_SPOOL_LOCKED', `${dir} is in use by process ${owner}`);
    }
    await writeFile(file, String(process.pid));
  }
  return () => rm(file, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
