import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { createFramer, readPubacks } from './puback-reader.ts';

const puback = (id: number) => mqttPacket.generate({ cmd: 'puback', messageId: id });
const pingresp = mqttPacket.generate({ cmd: 'pingresp' });
const command = mqttPacket.generate({
  cmd: 'publish',
  topic: 'skjold/d/x/commands',
  payload: Buffer.alloc(300, 0x61), // a two-byte remaining length
  qos: 0,
  retain: false,
  dup: false,
});

test('the framer counts PUBACKs and passes other packets on whole and in order, however the reads cut them', () => {
  const stream = Buffer.concat([puback(1), pingresp, puback(2), command, pingresp, puback(3), puback(4)]);
  for (let cut = 1; cut < stream.length; cut++) {
    for (const size of [cut, 1]) {
      let acks = 0;
      const passed: Buffer[] = [];
      const feed = createFramer(
        () => acks++,
        (b) => passed.push(Buffer.from(b)),
      );
      for (let at = 0; at < stream.length; at += size) feed(stream.subarray(at, at + size));
      assert.equal(acks, 4, `reads of ${size}`);
      assert.deepEqual(
        Buffer.concat(passed),
        Buffer.concat([pingresp, command, pingresp]),
        `reads of ${size}`,
      );
    }
  }
});

test('a malformed remaining length passes everything from there on to mqtt.js', () => {
  let acks = 0;
  const passed: Buffer[] = [];
  const feed = createFramer(
    () => acks++,
    (b) => passed.push(Buffer.from(b)),
  );
  const bad = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
  feed(Buffer.concat([puback(1), bad]));
  feed(puback(2));
  assert.equal(acks, 1);
  assert.deepEqual(Buffer.concat(passed), Buffer.concat([bad, puback(2)]));
});

test('on a real socket, PUBACKs are counted here, PINGRESP still reaches mqtt.js, and a reconnect is read too', async (t) => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connect')
        socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
    });
    socket.on('data', (b) => parser.parse(b));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    reconnectPeriod: 20,
    keepalive: 30,
  });
  t.after(() => {
    client.end(true);
    server.close();
  });
  await connected(client);
  let acks = 0;
  const seenByMqttJs: string[] = [];
  client.on('packetreceive', (p) => seenByMqttJs.push(p.cmd));
  assert.equal(
    readPubacks(client, () => acks++),
    true,
  );

  const first = sockets[0] as Socket;
  const bytes = Buffer.concat([puback(1), puback(2), pingresp, puback(3)]);
  first.write(bytes.subarray(0, 5));
  await new Promise((r) => setTimeout(r, 20));
  first.write(bytes.subarray(5));
  await until(() => acks === 3 && seenByMqttJs.length === 1);
  assert.deepEqual(seenByMqttJs, ['pingresp']);

  first.destroy();
  await connected(client);
  const second = sockets[1] as Socket;
  second.write(Buffer.concat([puback(4), puback(5)]));
  await until(() => acks === 5);
  assert.deepEqual(seenByMqttJs, ['pingresp', 'connack']);
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(done(), 'timed out');
}

function connected(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('connect', () => resolve()));
}
