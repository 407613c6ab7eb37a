import { after } from 'node:test';
import { startPostgres } from '../test/harness/postgres.ts';
import { freshPglite } from '../test/harness/registry.ts';
import { createPostgresClient } from './postgres-client.ts';
import { runRegistryContract } from './registry.contract.ts';

runRegistryContract('PGlite', freshPglite);

let stopPostgres: (() => Promise<void>) | undefined;
after(() => stopPostgres?.());
runRegistryContract('PostgreSQL', async () => {
  const pg = await startPostgres();
  stopPostgres = pg.stop;
  return createPostgresClient(pg.url);
});
