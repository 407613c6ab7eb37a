import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The drainer's checkpoint: the spool position up to which the store has
 * accepted every record. Replaced atomically (write a temp file, fsync it,
 * rename over the old one, fsync the directory), so after a crash it is
 * either the old position or the new one — never a torn file. An old
 * position only means some records are written to the store again, which is
 * harmless (a point's identity is measurement + tags + timestamp).
 */
const FILE = 'checkpoint.json';

export async function readCheckpoint(dir: string): Promise<number> {
  const text = await readFile(join(dir, FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return 0;
  const position = (JSON.parse(text) as { position?: unknown }).position;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) {
    throw new Error(`spool checkpoint ${join(dir, FILE)} is not a position: ${text.slice(0, 80)}`);
  }
  return position;
}

export async function writeCheckpoint(dir: string, position: number): Promise<void> {
  const tmp = join(dir, `${FILE}.tmp`);
  const file = await open(tmp, 'w');
  try {
    await file.writeFile(JSON.stringify({ position }));
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, join(dir, FILE));
  await syncDir(dir);
}

/** Makes a file's creation, rename or removal in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
