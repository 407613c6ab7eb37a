/**
 * A misbehaving device against the running stack: every bad message is
 * counted in /metrics, but the log gets its first rejection in full and then
 * one summary per minute, not a line per message. The stack's clock is moved
 * by hand instead of waiting the minute out.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { manualClock } from '../../lib/clock.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  endAll,
  eventually,
  identifierSource,
  publishAcked,
  type TestDevice,
} from './devices.ts';
import { metricValue, scrape } from './metrics.ts';

const TENANT = 'noisy';
const BAD_MESSAGES = 200;
const clock = manualClock('2026-12-01T12:00:00.000Z');

let stack: Stack;
let device: TestDevice;
let client: MqttClient;
let stopped = false;

before(async () => {
  stack = await startStack({}, { skjold: { clock } });
  await addTenant(stack.api, TENANT);
  device = await addDevice(stack.api, identifierSource('rejection-summary'), TENANT, 'building_sensor');
  client = await connectDevice(stack.mqttUrl, device);
});
after(async () => {
  await endAll([client]);
  if (!stopped) await stack.stop();
});

interface Entry {
  msg: string;
  device?: string;
  reason?: string;
  rejected?: number;
  seconds?: number;
}

const linesOfDevice = () =>
  stack.logs.filter((l) => l.includes(device.pseudonym)).map((l) => JSON.parse(l) as Entry);

const rejectedCount = async () =>
  metricValue(await scrape(stack.apiUrl), 'skjold_ingest_rejected_total', {
    kind: 'building_sensor',
    reason: 'json',
  });

test('a device sending malformed JSON over and over: every message counted, the log bounded and its sums right', async () => {
  for (let i = 0; i < BAD_MESSAGES; i++) await publishAcked(client, device.telemetry, `{"seq":${i},`);
  assert.equal(await rejectedCount(), BAD_MESSAGES, 'every rejection is in /metrics');
  let lines = linesOfDevice();
  assert.equal(lines.length, 1, lines.map((l) => l.msg).join('\n'));
  assert.equal(lines[0]?.msg, 'message rejected');
  assert.equal(lines[0]?.reason, 'json');

  // A minute later the device is still at it: the next rejection brings the summary of the last minute.
  clock.set('2026-12-01T12:01:01.000Z');
  await publishAcked(client, device.telemetry, '{"seq":');
  await eventually('the summary', () => linesOfDevice().length === 2);
  assert.equal(await rejectedCount(), BAD_MESSAGES + 1);
  const summary = linesOfDevice()[1];
  assert.equal(summary?.rejected, BAD_MESSAGES - 1);
  assert.equal(
    summary?.msg,
    `device ${device.pseudonym}: ${BAD_MESSAGES - 1} more messages rejected (json) in the last 61 s`,
  );

  // On shutdown what was counted since is said too: a single repeat on the shared line.
  await endAll([client]);
  stopped = true;
  await stack.stop();
  assert.equal(linesOfDevice().length, 2);
  const shared = stack.logs
    .map((l) => JSON.parse(l) as Entry & { reasons?: Record<string, number> })
    .filter((l) => l.rejected !== undefined && l.device === undefined);
  assert.deepEqual(
    shared.map((l) => l.msg),
    ['1 more message rejected (json 1) from 1 other device in the last 1 s'],
  );
  lines = [...linesOfDevice(), ...shared];
  const logged = 1 + lines.reduce((sum, l) => sum + (l.rejected ?? 0), 0);
  assert.equal(logged, BAD_MESSAGES + 1, 'the first line and the summaries add up to every rejection');
});
