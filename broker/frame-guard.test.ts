import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { createFrameGuard, PacketTooLargeError } from './frame-guard.ts';

const publish = (payloadBytes: number) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 'skjold/d/x/telemetry',
    payload: Buffer.alloc(payloadBytes, 0x61),
    qos: 1,
    messageId: 1,
    dup: false,
    retain: false,
  });

async function feed(limit: number, chunks: Buffer[]): Promise<{ passed: number; error?: unknown }> {
  const guard = createFrameGuard(limit);
  let passed = 0;
  guard.on('data', (c: Buffer) => {
    passed += c.length;
  });
  const failed = once(guard, 'error').then(([e]) => e as unknown);
  for (const c of chunks) if (!guard.write(c)) break;
  guard.end();
  const outcome = await Promise.race([failed, once(guard, 'end').then(() => undefined)]);
  return outcome === undefined ? { passed } : { passed, error: outcome };
}

test('packets within the limit pass through unchanged, however they are split', async () => {
  const stream = Buffer.concat([publish(10), publish(200), publish(1000), publish(0)]);
  const whole = await feed(2048, [stream]);
  assert.equal(whole.passed, stream.length);
  // One byte at a time: the header's remaining-length bytes arrive across chunks.
  const bytes = [...stream].map((b) => Buffer.from([b]));
  assert.equal((await feed(2048, bytes)).passed, stream.length);
});

test('a packet over the limit fails the stream as soon as its header is read', async () => {
  const big = publish(5000);
  const result = await feed(2048, [big.subarray(0, 6)]);
  assert.ok(result.error instanceof PacketTooLargeError);
  assert.ok(result.error.size > 2048);
});

test('a remaining length longer than four bytes is refused', async () => {
  const result = await feed(2048, [Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])]);
  assert.ok(result.error instanceof PacketTooLargeError);
});
