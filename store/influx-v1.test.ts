import { startInfluxd } from '../test/harness/influxd.ts';
import { createInfluxV1Store } from './influx-v1.ts';
import { runTelemetryStoreContract } from './telemetry-store.contract.ts';

runTelemetryStoreContract('InfluxDB 1.x (v1 HTTP API)', async () => {
  const server = await startInfluxd({ auth: true });
  const connectAs = (username: string, password: string) =>
    createInfluxV1Store({ url: server.url, username, password, timeoutMs: 5000 });
  return {
    store: connectAs(server.adminUser, server.adminPassword),
    connectAs,
    crashBackend: () => server.kill(),
    startBackend: () => server.restart(),
    close: () => server.stop(),
  };
});
