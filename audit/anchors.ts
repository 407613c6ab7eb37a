import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';

/** An entry's seq and hash (its HMAC), kept outside the registry. */
export interface Anchor {
  seq: number;
  hash: string;
}

export interface AnchorReading {
  file: string;
  /** undefined: the file does not exist. */
  anchor: Anchor | undefined;
}

/**
 * Anchor files: this instance's own, moved by the appends it makes, and the
 * other instances' (read only). Appends write the anchor while they hold the
 * chain's lock, so a shared file always holds the newest head and an
 * instance's own file its newest append.
 */
export function createAnchors(own: string | undefined, peers: readonly string[] = []) {
  const files = [...(own ? [own] : []), ...peers.filter((p) => p !== own)];

  async function read(file: string): Promise<AnchorReading> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, anchor: undefined };
      throw err;
    }
    // An unreadable anchor is as good as none; verify names it as a mismatch.
    try {
      const a = JSON.parse(text) as Partial<Anchor>;
      return { file, anchor: { seq: Number(a.seq), hash: String(a.hash) } };
    } catch {
      return { file, anchor: { seq: Number.NaN, hash: '' } };
    }
  }

  return {
    /** True when there is at least one anchor file to keep. */
    configured: files.length > 0,
    files,

    /** Replaces this instance's anchor: temp file + rename, so a reader sees the old one or the new. */
    async write(head: Anchor): Promise<void> {
      if (!own) return;
      const tmp = `${own}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, `${JSON.stringify(head)}\n`, { mode: 0o600 });
      await rename(tmp, own);
    },

    readAll: (): Promise<AnchorReading[]> => Promise.all(files.map(read)),

    /**
     * Puts this instance's anchor back to `previous` (removes it if there was
     * none) if it still holds `written`: an append whose commit failed must
     * not leave an anchor that names an entry the chain never got.
     */
    async restore(written: Anchor, previous: Anchor | undefined): Promise<void> {
      if (!own) return;
      const now = (await read(own)).anchor;
      if (now?.seq !== written.seq || now.hash !== written.hash) return;
      if (previous) await this.write(previous);
      else await rm(own, { force: true });
    },
  };
}

export type Anchors = ReturnType<typeof createAnchors>;
