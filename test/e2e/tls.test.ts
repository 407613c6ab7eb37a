import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  connectAs,
  identifierSource,
  type TestDevice,
  validReading,
} from './devices.ts';

const dir = mkdtempSync(join(tmpdir(), 'skjold-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
let stack: Stack;
let device: TestDevice;

before(async () => {
  // A self-signed certificate for localhost, as an operator's own CA would issue.
  execFileSync('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'],
    ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
  ]);
  stack = await startStack({ SKJOLD_MQTT_TLS_CERT: cert, SKJOLD_MQTT_TLS_KEY: key });
  await addTenant(stack.api, 'tls-tenant');
  device = await addDevice(stack.api, identifierSource('tls'), 'tls-tenant', 'heat_meter');
});
after(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('with a certificate configured, devices connect over TLS and their readings are stored', async () => {
  const url = stack.mqttUrl.replace('mqtt://', 'mqtts://');
  const client = await connectAs(url, device.login, device.secret, {
    ca: readFileSync(cert),
    servername: 'localhost',
  });
  await client.publishAsync(device.telemetry, JSON.stringify(validReading(device, 1)), { qos: 1 });
  await client.endAsync();
  await stack.settled();
  const stored = await rows(stack.skjold.store, 'tls-tenant', 'SELECT seq FROM heat_meter');
  assert.deepEqual(
    stored.map((r) => r.seq),
    [1],
  );
});

test('a device that does not trust the certificate, or speaks plain MQTT, gets no connection', async () => {
  const url = stack.mqttUrl.replace('mqtt://', 'mqtts://');
  await assert.rejects(connectAs(url, device.login, device.secret, { rejectUnauthorized: true }));
  await assert.rejects(connectAs(stack.mqttUrl, device.login, device.secret, { connectTimeout: 2000 }));
});
