/**
 * `node registry/pglite-init.ts DIR`: creates an empty PGlite data directory
 * and exits. Run by `createPgliteClient` as a child process (see there).
 */
import { PGlite } from '@electric-sql/pglite';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: pglite-init.ts DATA_DIR');
const db = await PGlite.create({ dataDir });
await db.close();
