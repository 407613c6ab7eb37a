/**
 * A bare aedes broker for device-sim's own tests: accepts the given devices'
 * secrets, enforces the contract's topic rule and records what arrives. Not
 * Skjold's broker (broker/ is); just enough of the contract to test against.
 */

import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import type { SimDevice } from './fleet.ts';

export interface ReceivedMessage {
  username: string;
  clientId: string;
  topic: string;
  qos: number;
  payload: Buffer;
}

export interface TestBroker {
  url: string;
  received: ReceivedMessage[];
  /** Logins refused at CONNECT. */
  refused: string[];
  /** Publishes refused by the topic rule. */
  forbidden: number;
  close(): Promise<void>;
}

export async function startTestBroker(devices: readonly SimDevice[]): Promise<TestBroker> {
  const secrets = new Map(devices.map((d) => [d.login, d.secret]));
  const usernames = new WeakMap<object, string>();
  const received: ReceivedMessage[] = [];
  const refused: string[] = [];
  let forbidden = 0;

  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      if (username && password && secrets.get(username) === password.toString('utf8')) {
        usernames.set(client, username);
        return done(null, true);
      }
      refused.push(username ?? '');
      // [MQTT-3.2.2.3] return code 4: bad user name or password.
      done(Object.assign(new Error('bad credentials'), { returnCode: 4 }) as AuthenticateError, false);
    },
    authorizePublish(client, packet, done) {
      const username = client ? usernames.get(client) : undefined;
      if (!username || packet.topic !== `skjold/d/${username}/telemetry`) {
        forbidden++;
        return done(new Error('topic not allowed'));
      }
      done(null);
    },
  });
  broker.on('publish', (packet, client) => {
    if (!client) return; // $SYS and will messages
    received.push({
      username: usernames.get(client) ?? '',
      clientId: client.id,
      topic: packet.topic,
      qos: packet.qos,
      payload: Buffer.from(packet.payload),
    });
  });

  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `mqtt://127.0.0.1:${port}`,
    received,
    refused,
    get forbidden() {
      return forbidden;
    },
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
