/**
 * Decommissioning a device over real MQTT: its live connection is closed, its
 * logins are refused (CONNACK 5, counted) even though the broker remembers its
 * verified credential for an hour, it is audited and listed as decommissioned,
 * and the tenant's other devices carry on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { runCli } from '../harness/cli.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { callAs, operator } from '../harness/tenant-api.ts';
import {
  addDevice,
  addTenant,
  closed,
  connectDevice,
  endAll,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
  withDeadline,
} from './devices.ts';

const TENANT = 'retiring';
let stack: Stack;
let retired: TestDevice;
let kept: TestDevice;
const clients = new Set<MqttClient>();

async function connect(d: TestDevice): Promise<MqttClient> {
  const c = await connectDevice(stack.mqttUrl, d);
  clients.add(c);
  return c;
}

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await stack.skjold.metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return match?.value ?? 0;
}

before(async () => {
  // An hour: a remembered credential must not let a decommissioned device back in.
  stack = await startStack({ SKJOLD_AUTH_CACHE_SECONDS: 3600 });
  await addTenant(stack.api, TENANT);
  const ids = identifierSource(TENANT);
  retired = await addDevice(stack.api, ids, TENANT, 'sim_unit');
  kept = await addDevice(stack.api, ids, TENANT, 'heat_meter');
});
after(async () => {
  await endAll(clients);
  await stack.stop();
});

test('a decommissioned device is disconnected, cannot log in again, and the others carry on', async () => {
  const live = await connect(retired);
  const other = await connect(kept);
  await publishAcked(live, retired.telemetry, JSON.stringify(validReading(retired, 1)));
  await publishAcked(other, kept.telemetry, JSON.stringify(validReading(kept, 1)));
  const gone = closed(live);

  const cli = await runCli(stack, 'devices', 'decommission', '--tenant', TENANT, '--device', retired.id);
  assert.equal(cli.code, 0, cli.stderr);
  const shown = JSON.parse(cli.stdout) as { id: string; disabled: boolean; decommissionedAt: string | null };
  assert.equal(shown.id, retired.id);
  assert.equal(shown.disabled, true);
  assert.match(shown.decommissionedAt ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

  await withDeadline(gone, 10_000, 'the decommissioned device’s connection closing');
  assert.equal(await counter('skjold_mqtt_decommissioned_closed_total'), 1);

  // Its credential was verified a moment ago and is remembered for an hour: refused all the same.
  await assert.rejects(connect(retired), (err: { code?: number }) => err.code === 5);
  assert.equal(await counter('skjold_mqtt_connect_refused_total', { reason: 'decommissioned' }), 1);

  // The other device's connection stayed up, and it can log in again.
  assert.equal(other.connected, true);
  await publishAcked(other, kept.telemetry, JSON.stringify(validReading(kept, 2)));
  await other.endAsync();
  const again = await connect(kept);
  await publishAcked(again, kept.telemetry, JSON.stringify(validReading(kept, 3)));
});

test('the device list shows it decommissioned, the audit log records it, and it stays so', async () => {
  const list = (await stack.api.listDevices(TENANT)) as Array<{
    id: string;
    disabled: boolean;
    decommissionedAt: string | null;
  }>;
  const byId = new Map(list.map((d) => [d.id, d]));
  assert.ok(byId.get(retired.id)?.decommissionedAt);
  assert.equal(byId.get(kept.id)?.decommissionedAt, null);
  assert.equal(byId.get(kept.id)?.disabled, false);

  const audit = await stack.skjold.registry.sql.query<{ actor: string; detail: string }>(
    `SELECT actor, detail FROM audit_log WHERE action = 'device.decommission' AND target = $1`,
    [retired.id],
  );
  assert.equal(audit.length, 1);
  assert.equal(audit[0]?.actor, 'operator');
  assert.match(audit[0]?.detail ?? '', /"kind":"sim_unit"/);

  const twice = await callAs(
    stack,
    operator(stack),
    'POST',
    `/v1/tenants/${TENANT}/devices/${retired.id}/decommission`,
    {},
  );
  assert.equal(twice.status, 409);
  assert.equal(twice.json().code, 'SKJOLD_ERR_DECOMMISSIONED');
  const unknown = await callAs(
    stack,
    operator(stack),
    'POST',
    `/v1/tenants/${TENANT}/devices/no-such-device/decommission`,
    {},
  );
  assert.equal(unknown.status, 404);
});
