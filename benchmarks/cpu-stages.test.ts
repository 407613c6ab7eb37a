import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CpuProfile, cpuStages } from './cpu-stages.ts';

const frame = (functionName: string, url: string) => ({ functionName, url });

test('a sample counts for the stage of the nearest frame on its stack that has one; the kernel’s CPU time is shared out by the samples', () => {
  const root = '/srv/skjold';
  // (root) → aedes handler → transform → JSON.parse; aedes → spool send → encodePoint; http write under influx-http
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 8, 9, 10] },
      {
        id: 2,
        callFrame: frame('handlePublish', `file://${root}/node_modules/aedes/lib/handlers/publish.js`),
        children: [3, 5],
      },
      { id: 3, callFrame: frame('transformMessage', `file://${root}/ingest/transform.ts`), children: [4] },
      { id: 4, callFrame: frame('parse', ''), children: [] },
      { id: 5, callFrame: frame('send', `file://${root}/transport/spool.ts`), children: [6] },
      { id: 6, callFrame: frame('encodePoint', `file://${root}/store/line-protocol.ts`), children: [] },
      { id: 7, callFrame: frame('writeGeneric', 'node:internal/stream_base_commons'), children: [] },
      { id: 8, callFrame: frame('once', `file://${root}/store/influx-http.ts`), children: [7] },
      { id: 9, callFrame: frame('(garbage collector)', ''), children: [] },
      { id: 10, callFrame: frame('(idle)', ''), children: [] },
    ],
    samples: [4, 4, 6, 7, 9, 10, 2],
    timeDeltas: [100, 100, 50, 30, 20, 1000, 10],
  };
  // 310 µs sampled busy (idle is not CPU); the kernel says the thread used 155 µs: every share halves.
  const stages = cpuStages(profile, 10, 155);
  assert.equal(
    stages.usPerMessage.validate,
    10,
    'JSON.parse under transform.ts: 200 µs sampled, 100 of CPU, / 10',
  );
  assert.equal(stages.usPerMessage['spool append'], 2.5, 'line protocol encoded in send');
  assert.equal(stages.usPerMessage['HTTP write'], 1.5);
  assert.equal(stages.usPerMessage.gc, 1);
  assert.equal(stages.usPerMessage['broker (MQTT)'], 0.5);
  assert.equal(stages.usPerMessage.other, 0);
});

test('the Kafka client counts as Kafka produce, not as the broker that called send', () => {
  const root = '/srv/skjold';
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2] },
      { id: 2, callFrame: frame('take', `file://${root}/broker/fast-path.ts`), children: [3] },
      { id: 3, callFrame: frame('push', `file://${root}/transport/batch-queue.ts`), children: [4, 6] },
      { id: 4, callFrame: frame('produce', `file://${root}/transport/kafka.ts`), children: [5] },
      {
        id: 5,
        callFrame: frame(
          'encode',
          `file://${root}/node_modules/kafkajs/src/protocol/recordBatch/v0/index.js`,
        ),
        children: [],
      },
      { id: 6, callFrame: frame('encodeRecord', `file://${root}/transport/kafka-message.ts`), children: [] },
    ],
    samples: [5, 5, 6, 3],
    timeDeltas: [40, 40, 10, 10],
  };
  const stages = cpuStages(profile, 10, 100);
  assert.equal(
    stages.usPerMessage['Kafka produce'],
    9,
    'kafkajs and the record encoding: 90 of 100 µs, / 10',
  );
  assert.equal(stages.usPerMessage['broker (MQTT)'], 1, 'the queue itself, under the broker');
});
