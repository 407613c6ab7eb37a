import { createServer, type Server } from 'node:net';

function listenOnZero(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('free-port: server has no TCP address');
  return address.port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Returns `count` distinct TCP ports on 127.0.0.1 that were free a moment ago.
 * All listeners stay open until every port is read, so the kernel cannot hand
 * out the same port twice within one call.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnZero());
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (listen on 0, read, close). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('free-port: no port allocated');
  return port;
}
