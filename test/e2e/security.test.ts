import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  closed,
  connectAs,
  connectDevice,
  endAll,
  eventually,
  identifierSource,
  publishAcked,
  subscribeCodes,
  type TestDevice,
  validReading,
} from './devices.ts';
import { metric } from './metrics.ts';

const A = 'tenant-a';
const B = 'tenant-b';

let stack: Stack;
let deviceA: TestDevice;
let deviceB: TestDevice;
const clients: MqttClient[] = [];

before(async () => {
  stack = await startStack();
  const ids = identifierSource('security');
  await addTenant(stack.api, A);
  await addTenant(stack.api, B);
  deviceA = await addDevice(stack.api, ids, A, 'building_sensor');
  deviceB = await addDevice(stack.api, ids, B, 'building_sensor');
});
after(async () => {
  await endAll(clients);
  await stack.stop();
});

async function connect(device: TestDevice): Promise<MqttClient> {
  const client = await connectDevice(stack.mqttUrl, device);
  clients.push(client);
  return client;
}

async function refusedCode(username: string | undefined, password: string | undefined): Promise<unknown> {
  const err = await connectAs(stack.mqttUrl, username, password).then(
    (client) => {
      clients.push(client);
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err, 'the connection was accepted');
  return (err as { code?: unknown }).code;
}

const refusals = (reason: string) => metric(stack.apiUrl, 'skjold_mqtt_connect_refused_total', { reason });

describe('MQTT authentication', () => {
  test('a connection without username and password is refused with CONNACK 4 and counted', async () => {
    const before = await refusals('missing_credentials');
    assert.equal(await refusedCode(undefined, undefined), 4);
    assert.equal(await refusals('missing_credentials'), before + 1);
  });

  test('a wrong password is refused with CONNACK 4 and counted', async () => {
    const before = await refusals('bad_secret');
    assert.equal(await refusedCode(deviceA.login, `${deviceA.secret}x`), 4);
    assert.equal(await refusals('bad_secret'), before + 1);
  });

  test('an unknown login is refused with CONNACK 4 and counted', async () => {
    const before = await refusals('unknown_device');
    assert.equal(await refusedCode('BS-NOSUCHDEVICE1', deviceA.secret), 4);
    assert.equal(await refusals('unknown_device'), before + 1);
  });
});

describe('MQTT topic ACL', () => {
  test('a device publishing to another device’s topic is disconnected, nothing is stored, and it is counted', async () => {
    const forbidden = await metric(stack.apiUrl, 'skjold_mqtt_forbidden_total', { action: 'publish' });
    const a = await connect(deviceA);
    const gone = closed(a);
    const marker = 910_001;
    // As B's reading, so a store that trusted the topic would file it under B.
    a.publish(deviceB.telemetry, JSON.stringify(validReading(deviceB, marker)), { qos: 1 });
    await gone;
    await eventually(
      'forbidden publish counted',
      async () =>
        (await metric(stack.apiUrl, 'skjold_mqtt_forbidden_total', { action: 'publish' })) === forbidden + 1,
    );

    // A later reading from B, acknowledged and then stored, orders the check after the refused one.
    const b = await connect(deviceB);
    await publishAcked(b, deviceB.telemetry, JSON.stringify(validReading(deviceB, marker + 1)));
    await stack.settled();
    for (const tenant of [A, B]) {
      const stored = await rows(stack.skjold.store, tenant, `SELECT * FROM /.*/ WHERE seq = ${marker}`);
      assert.deepEqual(stored, [], `nothing from the refused publish in ${tenant}’s database`);
    }
    const fromB = await rows(stack.skjold.store, B, `SELECT * FROM /.*/ WHERE seq = ${marker + 1}`);
    assert.equal(fromB.length, 1, 'B’s own reading was stored');
    assert.equal(fromB[0]?.device, deviceB.pseudonym);
  });

  test('subscriptions to other devices’ topics and wildcards get SUBACK 128; the own command topic is granted', async () => {
    const forbidden = () => metric(stack.apiUrl, 'skjold_mqtt_forbidden_total', { action: 'subscribe' });
    const before = await forbidden();
    const a = await connect(deviceA);
    const refused = [deviceB.telemetry, deviceA.telemetry, '#', 'skjold/#', 'skjold/d/+/telemetry', '$SYS/#'];
    for (const topic of refused) {
      assert.deepEqual(await subscribeCodes(a, topic), [128], `subscription to ${topic} refused`);
    }
    const own = await subscribeCodes(a, deviceA.commands);
    assert.equal(own.length, 1);
    assert.ok(own[0] === 0 || own[0] === 1, `own command topic granted (SUBACK ${own[0]})`);
    assert.ok(a.connected, 'refused subscriptions keep the connection');
    assert.equal(await forbidden(), before + refused.length, 'each refusal counted');
  });

  test('a device subscribed to all it may receives nothing of another device’s telemetry', async () => {
    const a = await connect(deviceA);
    for (const topic of [deviceA.commands, deviceB.telemetry, '#', 'skjold/#', '+/+/+/+']) {
      await subscribeCodes(a, topic);
    }
    const received: string[] = [];
    a.on('message', (topic) => received.push(topic));

    const b = await connect(deviceB);
    for (let i = 0; i < 5; i++) {
      await publishAcked(b, deviceB.telemetry, JSON.stringify(validReading(deviceB, 920_000 + i)));
    }
    // Positive control: a message Skjold itself sends to A's command topic does arrive,
    // and after B's readings, so anything forwarded from B would have arrived first.
    stack.skjold.broker.aedes.publish(
      {
        cmd: 'publish',
        topic: deviceA.commands,
        payload: Buffer.from('ping'),
        qos: 0,
        retain: false,
        dup: false,
      },
      () => {},
    );
    await eventually('the command reached A', () => received.includes(deviceA.commands));
    assert.deepEqual(received, [deviceA.commands], 'A received only its own command');
  });
});

describe('InfluxDB tenant isolation', () => {
  const reader = { username: 'grafana_a', password: 'reader-password-0123456789' };
  const influxUrl = () => stack.influx.url;

  async function influx(path: string, params: Record<string, string>, method = 'GET', body?: string) {
    const url = new URL(path, influxUrl());
    for (const [k, v] of Object.entries({ u: reader.username, p: reader.password, ...params }))
      url.searchParams.set(k, v);
    const res = await fetch(url, { method, ...(body === undefined ? {} : { body }) });
    return { status: res.status, text: await res.text() };
  }

  before(async () => {
    // Data in both databases, so "readable" and "refused" are about something.
    const a = await connect(deviceA);
    await publishAcked(a, deviceA.telemetry, JSON.stringify(validReading(deviceA, 930_000)));
    const b = await connect(deviceB);
    await publishAcked(b, deviceB.telemetry, JSON.stringify(validReading(deviceB, 930_001)));
    await stack.settled();
    const res = await stack.api.call<{ database: string }>(
      'PUT',
      `/v1/tenants/${A}/dashboard-credential`,
      reader,
    );
    assert.equal(res.database, stack.skjold.store.databaseFor(A));
  });

  test('the dashboard credential reads its tenant’s database', async () => {
    const res = await influx('/query', { db: stack.skjold.store.databaseFor(A), q: 'SELECT * FROM /.*/' });
    assert.equal(res.status, 200, res.text);
    const body = JSON.parse(res.text) as { results: Array<{ error?: string; series?: unknown[] }> };
    assert.equal(body.results[0]?.error, undefined);
    assert.ok((body.results[0]?.series ?? []).length > 0, 'A’s readings are visible');
  });

  test('the dashboard credential cannot read another tenant’s database', async () => {
    const res = await influx('/query', { db: stack.skjold.store.databaseFor(B), q: 'SELECT * FROM /.*/' });
    assert.equal(res.status, 403, res.text);
    assert.match(res.text, /not authorized/, res.text);
    assert.doesNotMatch(res.text, /"series"/, 'no rows of B came back');
  });

  test('the dashboard credential cannot write, not even to its own tenant’s database', async () => {
    const db = stack.skjold.store.databaseFor(A);
    const res = await influx(
      '/write',
      { db, precision: 'ms' },
      'POST',
      `building_sensor,tenant=${A} co2_ppm=1i 1`,
    );
    assert.equal(res.status, 403, res.text);
    const injected = await rows(stack.skjold.store, A, 'SELECT * FROM building_sensor WHERE time = 1ms');
    assert.deepEqual(injected, []);
  });
});

describe('API authentication', () => {
  async function status(headers: Record<string, string>) {
    const res = await fetch(new URL('/v1/tenants', stack.apiUrl), { headers });
    return { status: res.status, body: (await res.json()) as { code?: string } };
  }

  test('a request without the operator token gets 401 SKJOLD_ERR_AUTH', async () => {
    const res = await status({});
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'SKJOLD_ERR_AUTH');
  });

  test('a request with a wrong token gets 401 SKJOLD_ERR_AUTH', async () => {
    for (const authorization of [
      'Bearer wrong-token-0123456789abcdef',
      `Bearer ${stack.config.SKJOLD_OPERATOR_TOKEN}x`,
      'Basic abc',
    ]) {
      const res = await status({ authorization });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.body.code, 'SKJOLD_ERR_AUTH');
    }
  });

  test('the operator token is accepted (the refusals above are about the token)', async () => {
    const tenants = await stack.api.listTenants();
    assert.deepEqual(tenants.map((t) => t.id).sort(), [A, B]);
  });
});
