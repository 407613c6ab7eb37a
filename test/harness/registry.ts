import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../registry/migrate.ts';
import { createPgliteClient } from '../../registry/pglite-client.ts';
import type { SqlClient } from '../../registry/sql.ts';

const MIGRATIONS = join(import.meta.dirname, '../../registry/migrations');

/** Name of the cached template: changes whenever a migration does. */
function templateFile(): string {
  const hash = createHash('sha256');
  for (const f of readdirSync(MIGRATIONS).sort()) hash.update(f).update(readFileSync(join(MIGRATIONS, f)));
  return join(tmpdir(), `skjold-pglite-template-${hash.digest('hex').slice(0, 16)}.tar`);
}

let template: Promise<Blob> | undefined;

/**
 * A migrated PGlite data directory, made once (initdb takes ~7 s) and cached
 * on disk for the other test files, which load it in about a second.
 */
function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const file = templateFile();
    const cached = await readFile(file).catch(() => undefined);
    if (cached) return new Blob([cached]);
    const sql = (await createPgliteClient()) as SqlClient & { dump(): Promise<Blob> };
    await migrate(sql);
    const blob = await sql.dump();
    await sql.close();
    const tmp = `${file}.${process.pid}`;
    await writeFile(tmp, Buffer.from(await blob.arrayBuffer()));
    await rename(tmp, file);
    return blob;
  })();
  return template;
}

/** A fresh, migrated, in-memory PGlite registry. */
export async function freshPglite(): Promise<SqlClient> {
  return createPgliteClient({ template: await pgliteTemplate() });
}
