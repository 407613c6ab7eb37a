/**
 * The store router passes the same contract as one InfluxDB, with its two
 * contract tenants on two real influxd servers: `acme` on the default store
 * (where new tenants go), `globex-heat` placed on the second one beforehand.
 */
import { createTenantPlacement } from '../registry/tenant-placement.ts';
import { startInfluxd } from '../test/harness/influxd.ts';
import { openTestRegistry } from '../test/harness/registries.ts';
import { createInfluxV1Store } from './influx-v1.ts';
import { createStoreRouter } from './store-router.ts';
import { runTelemetryStoreContract } from './telemetry-store.contract.ts';

runTelemetryStoreContract('store router over two InfluxDB 1.x servers', async () => {
  const [a, b] = await Promise.all([startInfluxd({ auth: true }), startInfluxd({ auth: true })]);
  if (!a || !b) throw new Error('two influxd servers');
  const registry = await openTestRegistry('pglite');
  const placement = createTenantPlacement(registry.sql);
  await placement.place('globex-heat', 'second');
  const routerWith = (onA: [string, string], onB: [string, string]) =>
    createStoreRouter({
      stores: new Map([
        ['default', createInfluxV1Store({ url: a.url, username: onA[0], password: onA[1], timeoutMs: 5000 })],
        ['second', createInfluxV1Store({ url: b.url, username: onB[0], password: onB[1], timeoutMs: 5000 })],
      ]),
      placement,
      newTenantStore: 'default',
      refreshMs: 0,
    });
  // A dashboard credential is the same name and password on whichever server holds its tenant.
  const connectAs = (username: string, password: string) =>
    routerWith([username, password], [username, password]);
  return {
    store: routerWith([a.adminUser, a.adminPassword], [b.adminUser, b.adminPassword]),
    connectAs,
    crashBackend: async () => {
      await Promise.all([a.kill(), b.kill()]);
    },
    startBackend: async () => {
      await Promise.all([a.restart(), b.restart()]);
    },
    close: async () => {
      await Promise.all([a.stop(), b.stop()]);
      await registry.close();
    },
  };
});
