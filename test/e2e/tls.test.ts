/**
 * Both listeners with TLS, certificates from a private CA made with openssl
 * (test/harness/test-ca.ts): clients that trust that CA connect and work;
 * clients that trust another CA, and plain MQTT or HTTP, get nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { runCliWithEnv } from '../harness/cli.ts';
import { rows } from '../harness/influx-rows.ts';
import { startSkjoldProcess } from '../harness/skjold-process.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { createTestCa, type TestCa } from '../harness/test-ca.ts';
import {
  addDevice,
  addTenant,
  connectAs,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';

const TENANT = 'tls-tenant';
let ca: TestCa;
let otherCa: TestCa;
let stack: Stack;
let device: TestDevice;

before(async () => {
  ca = createTestCa();
  otherCa = createTestCa('Some other CA');
  // The harness's own API client (fetch) trusts the CA beside the system's, as
  // an operator's shell with NODE_EXTRA_CA_CERTS would; the checks below name
  // the CA they trust explicitly.
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), ca.ca.toString()]);
  stack = await startStack({
    SKJOLD_MQTT_TLS_CERT: ca.certFile,
    SKJOLD_MQTT_TLS_KEY: ca.keyFile,
    SKJOLD_API_TLS_CERT: ca.certFile,
    SKJOLD_API_TLS_KEY: ca.keyFile,
  });
  await addTenant(stack.api, TENANT);
  device = await addDevice(stack.api, identifierSource('tls'), TENANT, 'heat_meter');
});
after(async () => {
  await stack?.stop();
  ca?.remove();
  otherCa?.remove();
});

const port = (url: string) => new URL(url).port;

/** GET over HTTPS trusting only `trusted` (no system CAs). */
function httpsGet(
  path: string,
  trusted: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(new URL(path, stack.apiUrl), { ca: trusted, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

test('a device trusting the CA connects with MQTT over TLS and its reading is stored', async () => {
  assert.match(stack.mqttUrl, /^mqtts:\/\/127\.0\.0\.1:/);
  // Verified against the IP address in the certificate's subjectAltName.
  const client = await connectAs(stack.mqttUrl, device.login, device.secret, {
    ca: ca.ca,
    rejectUnauthorized: true,
  });
  await publishAcked(client, device.telemetry, JSON.stringify(validReading(device, 1)));
  await client.endAsync();
  await stack.settled();
  const stored = await rows(stack.skjold.store, TENANT, 'SELECT seq FROM heat_meter');
  assert.deepEqual(
    stored.map((r) => r.seq),
    [1],
  );
});

test('a device trusting another CA, or speaking plain MQTT to the TLS port, gets no connection', async () => {
  await assert.rejects(
    connectAs(stack.mqttUrl, device.login, device.secret, { ca: otherCa.ca, rejectUnauthorized: true }),
    /certificate/,
  );
  await assert.rejects(
    connectAs(`mqtt://127.0.0.1:${port(stack.mqttUrl)}`, device.login, device.secret, {
      connectTimeout: 2000,
    }),
  );
});

test('an API client trusting the CA makes an authenticated call over HTTPS; cookies would be Secure', async () => {
  assert.match(stack.apiUrl, /^https:\/\/127\.0\.0\.1:/);
  const tenants = await httpsGet('/v1/tenants', ca.ca, {
    authorization: `Bearer ${stack.config.SKJOLD_OPERATOR_TOKEN}`,
  });
  assert.equal(tenants.status, 200, tenants.body);
  assert.deepEqual(
    (JSON.parse(tenants.body) as Array<{ id: string }>).map((t) => t.id),
    [TENANT],
  );
  // The token still matters over TLS.
  assert.equal((await httpsGet('/v1/tenants', ca.ca)).status, 401);
  assert.equal(stack.skjold.api.secureCookies, true);
});

test('an API client trusting another CA is refused; plain HTTP to the HTTPS port gets no answer', async () => {
  await assert.rejects(httpsGet('/healthz', otherCa.ca), /certificate/);
  await assert.rejects(fetch(`http://127.0.0.1:${port(stack.apiUrl)}/healthz`));
});

test('the CLI talks to the HTTPS API when NODE_EXTRA_CA_CERTS names the CA, and refuses it otherwise', async () => {
  const trusted = await runCliWithEnv(stack, { NODE_EXTRA_CA_CERTS: ca.caFile }, 'tenants', 'list');
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.deepEqual(
    (JSON.parse(trusted.stdout) as Array<{ id: string }>).map((t) => t.id),
    [TENANT],
  );
  const untrusted = await runCliWithEnv(stack, { NODE_EXTRA_CA_CERTS: otherCa.caFile }, 'tenants', 'list');
  assert.notEqual(untrusted.code, 0);
  assert.equal(untrusted.stdout, '');
  assert.match(untrusted.stderr, /certificate is not trusted .*NODE_EXTRA_CA_CERTS/);
});

test('skjold start with both certificates serves HTTPS and MQTT over TLS, and its banner says so', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'skjold-tls-start-'));
  const proc = await startSkjoldProcess({
    id: 'tls',
    dataDir,
    env: {
      SKJOLD_MQTT_TLS_CERT: ca.certFile,
      SKJOLD_MQTT_TLS_KEY: ca.keyFile,
      SKJOLD_API_TLS_CERT: ca.certFile,
      SKJOLD_API_TLS_KEY: ca.keyFile,
      SKJOLD_INFLUX_URL: stack.influx.url,
      SKJOLD_INFLUX_USER: stack.influx.adminUser,
      SKJOLD_INFLUX_PASSWORD: stack.influx.adminPassword,
      SKJOLD_INFLUXD_MANAGED: 'false',
      SKJOLD_RETENTION_SCHEDULE: 'off',
    },
  });
  try {
    // startSkjoldProcess waited for /readyz over HTTPS.
    assert.match(proc.apiUrl, /^https:/);
    const banner = proc.logTail();
    assert.ok(banner.includes(`Dashboard          ${proc.apiUrl}/`), banner);
    assert.ok(banner.includes(`API                ${proc.apiUrl}/v1`), banner);
    assert.ok(banner.includes(`mqtts://127.0.0.1:${proc.mqttPort}`), banner);
  } finally {
    await proc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
