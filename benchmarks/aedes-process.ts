/**
 * Phase B's broker: plain aedes as its README starts it — no authentication,
 * no ACL, no ingest — on a free port. The ceiling Skjold's broker is measured
 * against.
 */
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Aedes } from 'aedes';
import { serveIpc } from './ipc.ts';

let close: (() => Promise<void>) | undefined;

async function start(): Promise<{ mqttUrl: string }> {
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { mqttUrl: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

serveIpc({ start, stop: async () => close?.() });
