import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { type PublishFields, readPublish } from './publish-reader.ts';

const OWN = 'skjold/d/89450000000000000017/telemetry';
const own = Buffer.from(OWN);

const publishArb = fc.record({
  cmd: fc.constant('publish' as const),
  topic: fc.constantFrom(
    OWN,
    OWN,
    OWN,
    `${OWN}x`,
    OWN.slice(0, -1),
    'skjold/d/other/telemetry',
    'skjold/d/ø/telemetry',
    // Same length, one byte different.
    OWN.replace('17', '18'),
  ),
  qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
  messageId: fc.integer({ min: 1, max: 65_535 }),
  dup: fc.boolean(),
  retain: fc.boolean(),
  // Up to 20 000 bytes: remaining lengths of one, two and three bytes.
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.uint8Array({ minLength: 16_000, maxLength: 20_000 }),
  ),
});

const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  { weight: 6, arbitrary: publishArb },
  fc.constant({ cmd: 'pingreq' as const }),
  fc.record({ cmd: fc.constant('puback' as const), messageId: fc.integer({ min: 1, max: 65_535 }) }),
  fc.record({
    cmd: fc.constant('subscribe' as const),
    messageId: fc.integer({ min: 1, max: 65_535 }),
    subscriptions: fc.constant([{ topic: OWN, qos: 1 as const }]),
  }),
) as fc.Arbitrary<Packet>;

const encode = (p: Packet): Buffer => {
  const packet = p.cmd === 'publish' ? { ...p, payload: Buffer.from(p.payload as Uint8Array) } : p;
  return mqttPacket.generate(packet as Packet);
};

/** What mqtt-packet's parser makes of `buf`. */
function parsed(buf: Buffer): Packet[] {
  const parser = mqttPacket.parser();
  const out: Packet[] = [];
  parser.on('packet', (p: Packet) => out.push(p));
  parser.parse(buf);
  return out;
}

test('reads exactly the QoS 0 and 1 PUBLISHes to the own topic, with what mqtt-packet reads', () => {
  let read = 0;
  let passed = 0;
  fc.assert(
    fc.property(packetArb, fc.uint8Array({ maxLength: 3 }), (packet, junk) => {
      const bytes = encode(packet);
      // After other bytes: `at` is honoured.
      const buf = Buffer.concat([Buffer.from(junk), bytes]);
      const out: PublishFields = { qos: 0, messageId: 0, payloadStart: 0, end: 0 };
      const ok = readPublish(buf, junk.length, own, out);
      const [theirs] = parsed(bytes);
      assert.ok(theirs);
      const expected = theirs.cmd === 'publish' && theirs.qos < 2 && theirs.topic === OWN;
      assert.equal(ok, expected, `${theirs.cmd} ${'topic' in theirs ? theirs.topic : ''}`);
      if (!ok) {
        passed++;
        return;
      }
      read++;
      assert.ok(theirs.cmd === 'publish');
      assert.equal(out.qos, theirs.qos);
      assert.equal(out.messageId, theirs.qos === 1 ? theirs.messageId : 0);
      assert.deepEqual(buf.subarray(out.payloadStart, out.end), Buffer.from(theirs.payload as Buffer));
      assert.equal(out.end, buf.length);
    }),
    { numRuns: 2_000 },
  );
  assert.ok(read > 100 && passed > 100, `read ${read}, passed over ${passed}`);
});

test('a packet cut short by the end of the read is not read (mqtt-packet waits for the rest)', () => {
  fc.assert(
    fc.property(
      fc.record({
        qos: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>,
        messageId: fc.integer({ min: 1, max: 65_535 }),
        payload: fc.uint8Array({ maxLength: 300 }),
      }),
      ({ qos, messageId, payload }) => {
        const bytes = mqttPacket.generate({
          cmd: 'publish',
          topic: OWN,
          qos,
          messageId,
          dup: false,
          retain: false,
          payload: Buffer.from(payload),
        });
        const out: PublishFields = { qos: 0, messageId: 0, payloadStart: 0, end: 0 };
        assert.equal(readPublish(bytes, 0, own, out), true);
        for (let cut = 0; cut < bytes.length; cut++) {
          assert.equal(readPublish(bytes.subarray(0, cut), 0, own, out), false, `cut at ${cut}`);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('malformed headers are left to mqtt-packet: five length bytes, QoS 3, a topic longer than the packet', () => {
  const out: PublishFields = { qos: 0, messageId: 0, payloadStart: 0, end: 0 };
  const topicLength = Buffer.alloc(2);
  topicLength.writeUInt16BE(own.length);
  const body = Buffer.concat([topicLength, own, Buffer.from([0, 1]), Buffer.from('{}')]);
  assert.equal(readPublish(Buffer.concat([Buffer.from([0x32, body.length]), body]), 0, own, out), true);
  assert.equal(
    readPublish(Buffer.concat([Buffer.from([0x32, 0xff, 0xff, 0xff, 0xff, 0x01]), body]), 0, own, out),
    false,
  );
  assert.equal(readPublish(Buffer.concat([Buffer.from([0x36, body.length]), body]), 0, own, out), false);
  assert.equal(readPublish(Buffer.concat([Buffer.from([0x32, 4]), body]), 0, own, out), false);
  // QoS 1 without room for the packet identifier.
  const short = Buffer.concat([topicLength, own]);
  assert.equal(readPublish(Buffer.concat([Buffer.from([0x32, short.length]), short]), 0, own, out), false);
});
