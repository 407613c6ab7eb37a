/**
 * A PUBACK means "fsynced in the spool" (transport/README.md, "Durable when"):
 * over a real MQTT connection to a real Skjold, the spool's durable write (its
 * segment is opened O_DSYNC, so the write is the sync) is made to hang and
 * then to fail. While it hangs no PUBACK goes out; when it fails
 * none goes out at all, the device is disconnected, and its resend after the
 * reconnect is what gets stored — once, counted by the store writer's points
 * written (a second write of the same point would overwrite the first in
 * InfluxDB, so rows alone could not show it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { nodeSpoolFiles, type SpoolFile, type SpoolFiles } from '../../transport/spool-files.ts';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  endAll,
  eventually,
  holdsFor,
  identifierSource,
  type TestDevice,
  validReading,
  withDeadline,
} from './devices.ts';
import { metricValue, scrape } from './metrics.ts';
import { connectReconnecting } from './seq-publisher.ts';

const TENANT = 'synkvarme';
const T0 = Date.now() - 3_600_000;
/** How long "no PUBACK" is watched for: many times a real durable write on this machine. */
const WINDOW_MS = 1_500;

/**
 * Segment files whose durable write the test controls: the spool's tail is
 * opened O_DSYNC ('w+dsync'), so its write is what makes a commit durable.
 * It passes, hangs until released (nothing written yet), or writes and then
 * fails with EIO as a sync that did not complete would (the spool must cut
 * those bytes off again).
 */
function controlledSync() {
  let mode: 'pass' | 'hang' | 'fail' = 'pass';
  let gate = Promise.withResolvers<void>();
  const state = { calls: 0, failures: 0 };
  const wrap = (h: SpoolFile): SpoolFile => ({
    read: (b, o, l, p) => h.read(b, o, l, p),
    sync: () => h.sync(),
    truncate: (l) => h.truncate(l),
    stat: () => h.stat(),
    close: () => h.close(),
    async write(b, o, l, p) {
      state.calls++;
      if (mode === 'hang') await gate.promise;
      const written = await h.write(b, o, l, p);
      if (mode === 'fail') {
        state.failures++;
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      }
      return written;
    },
  });
  const files: SpoolFiles = {
    async open(path, flags) {
      const file = await nodeSpoolFiles.open(path, flags);
      return flags === 'w+dsync' ? wrap(file) : file;
    },
  };
  return {
    files,
    state,
    set(next: 'pass' | 'hang' | 'fail') {
      mode = next;
      if (next !== 'hang') {
        gate.resolve();
        gate = Promise.withResolvers<void>();
      }
    },
  };
}

const sync = controlledSync();
let stack: Stack;
let device: TestDevice;
/** Every client a test connected, ended after the file even when a test failed midway. */
const clients: MqttClient[] = [];

const written = async () => metricValue(await scrape(stack.apiUrl), 'skjold_store_points_written_total');

async function storedSeqs(): Promise<number[]> {
  const found = await rows(
    stack.skjold.store,
    TENANT,
    `SELECT seq FROM ${device.kind} WHERE device = '${device.pseudonym}'`,
  );
  return found.map((r) => Number(r.seq)).sort((a, b) => a - b);
}

/** Publishes `seq` at QoS 1; `acked` turns true on its PUBACK. */
function publish(client: MqttClient, seq: number) {
  const state = { acked: false };
  const body = JSON.stringify(validReading(device, seq, T0 + seq * 60_000));
  const puback = client.publishAsync(device.telemetry, body, { qos: 1 }).then(() => {
    state.acked = true;
  });
  return { state, puback };
}

before(async () => {
  stack = await startStack({}, { skjold: { spoolFiles: sync.files } });
  await addTenant(stack.api, TENANT);
  device = await addDevice(stack.api, identifierSource(TENANT), TENANT, 'heat_meter');
});
after(async () => {
  sync.set('pass');
  await endAll(clients);
  await stack.stop();
});

test('no PUBACK while the spool’s durable write hangs; once it returns, the PUBACK follows and the reading is stored once', async () => {
  const [client] = (await connectReconnecting(stack.mqttUrl, [device])) as [MqttClient];
  clients.push(client);
  const before = await written();
  const calls = sync.state.calls;

  sync.set('hang');
  const msg = publish(client, 1);
  await eventually('the spool syncs the reading', () => sync.state.calls > calls);
  await holdsFor('no PUBACK while the write hangs', WINDOW_MS, () => !msg.state.acked);

  sync.set('pass');
  await withDeadline(msg.puback, 10_000, 'PUBACK once the write returned');
  await eventually('the reading in InfluxDB', async () => (await storedSeqs()).includes(1));
  await stack.settled();
  assert.deepEqual(await storedSeqs(), [1]);
  assert.equal((await written()) - before, 1, 'the store writer wrote the reading once');
  await client.endAsync();
});

test('no PUBACK when the durable write fails; the device’s resend after the reconnect is stored once', async () => {
  const [client] = (await connectReconnecting(stack.mqttUrl, [device])) as [MqttClient];
  clients.push(client);
  let disconnects = 0;
  client.on('close', () => disconnects++);
  const before = await written();

  sync.set('fail');
  const msg = publish(client, 2);
  await eventually('a durable write failed', () => sync.state.failures > 0);
  await eventually('the broker dropped the connection of the unacknowledged message', () => disconnects > 0);
  // The device keeps resending on each reconnect; every attempt fails, none is acknowledged.
  await holdsFor('no PUBACK while the write fails', WINDOW_MS, () => !msg.state.acked);
  assert.equal((await written()) - before, 0, 'nothing that failed to sync reached the store');

  sync.set('pass');
  await withDeadline(msg.puback, 15_000, 'PUBACK for the resend once the write works');
  await eventually('the reading in InfluxDB', async () => (await storedSeqs()).includes(2));
  await stack.settled();
  assert.deepEqual(await storedSeqs(), [1, 2]);
  assert.equal((await written()) - before, 1, 'the resend was written once; the failed attempts never');
});
