/**
 * The Kafka transport end to end, against librdkafka's mock cluster and a real
 * influxd: a PUBACK means Kafka has the point, the writer stores it, and
 * faults on the Kafka side (a broker down, a leader moved, produce errors)
 * lose nothing a device saw acknowledged — with either of ingest's producers
 * (SKJOLD_KAFKA_PRODUCER: kafkajs, the default, and librdkafka).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { rows } from '../harness/influx-rows.ts';
import { KafkaApi, KafkaErrors } from '../harness/kafka-mock.ts';
import { type KafkaStack, startKafkaStack } from '../harness/kafka-stack.ts';
import { startAckedLoad } from './acked-load.ts';
import { addTenantFleet, connectDevice, eventually, type TestDevice, validReading } from './devices.ts';
import { metricValue, scrape } from './metrics.ts';

const T0 = Date.now() - 3_600_000;
let stack: KafkaStack;

let tenants = 0;
const fleet = (n: number): Promise<TestDevice[]> => addTenantFleet(stack.api, `kafka-${++tenants}`, n);

async function underLoad(devices: TestDevice[], fault: () => Promise<void>, publishTimeoutMs = 60_000) {
  const load = startAckedLoad(stack.mqttUrl, devices, { t0: T0, publishTimeoutMs });
  await load.progress(20);
  await fault();
  await load.progress(20, 90_000);
  await load.stop();
  const result = await waitAllStored(load);
  return { ...result, resends: load.resends() };
}

async function waitAllStored(load: ReturnType<typeof startAckedLoad>) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await load.assertAllStored(stack.skjold.store);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await delay(250);
    }
  }
}

for (const producer of ['kafkajs', 'rdkafka'] as const) {
  describe(`ingest producing with ${producer}`, () => {
    before(async () => {
      stack = await startKafkaStack({ SKJOLD_RETRY_MAX_MS: 500, SKJOLD_KAFKA_PRODUCER: producer });
    });
    after(async () => {
      await stack?.stop();
    });

    test('a PUBACK on the Kafka path means the point is on the topic, and the writer stores it', async () => {
      const [device] = await fleet(1);
      assert.ok(device);
      const client = await connectDevice(stack.mqttUrl, device);
      for (let seq = 0; seq < 10; seq++) {
        await client.publishAsync(device.telemetry, JSON.stringify(validReading(device, seq, T0 + seq)), {
          qos: 1,
        });
      }
      await client.endAsync();
      const text = await scrape(stack.apiUrl);
      assert.equal(metricValue(text, 'skjold_kafka_points_produced_total', { outcome: 'ok' }), 10);
      const query = `SELECT seq FROM ${device.kind} WHERE device = '${device.pseudonym}'`;
      await eventually(
        'the writer stored all ten',
        async () => (await rows(stack.skjold.store, device.tenantId, query)).length === 10,
      );
      const stored = await rows(stack.skjold.store, device.tenantId, query);
      assert.deepEqual(
        stored.map((r) => Number(r.seq)).sort((a, b) => a - b),
        Array.from({ length: 10 }, (_, i) => i),
      );
    });

    test('a broker taken down under load and brought back: every acknowledged reading is stored', async () => {
      const devices = await fleet(12);
      const result = await underLoad(devices, async () => {
        await stack.kafka.brokerDown(1);
        await delay(3000);
        await stack.kafka.brokerUp(1);
      });
      assert.ok(result.acked > 12 * 40, `acked ${result.acked}`);
    });

    // A send spanning two brokers, one answering "not the leader" for a partition that moved to
    // the other, once resolved without writing that partition (transport/kafka.ts).
    test('a partition leader moved under load: every acknowledged reading is stored', async () => {
      const devices = await fleet(12);
      const result = await underLoad(devices, async () => {
        for (let p = 0; p < 4; p++) await stack.kafka.setLeader(stack.topic, p, ((p + 1) % 3) + 1);
      });
      assert.ok(result.acked > 12 * 40, `acked ${result.acked}`);
    });

    test('retriable produce errors delay acknowledgements and lose nothing', async () => {
      const devices = await fleet(12);
      const result = await underLoad(devices, async () => {
        await stack.kafka.requestErrors(KafkaApi.Produce, [
          KafkaErrors.NOT_LEADER_FOR_PARTITION,
          KafkaErrors.REQUEST_TIMED_OUT,
          KafkaErrors.NOT_ENOUGH_REPLICAS,
          KafkaErrors.LEADER_NOT_AVAILABLE,
          KafkaErrors.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
          // librdkafka 2.0 gives up on CORRUPT_MESSAGE (kafkajs retries it): its points are not
          // acknowledged and their devices resend after their own timeout (docs/kafka.md).
          ...(producer === 'kafkajs' ? [KafkaErrors.CORRUPT_MESSAGE] : []),
        ]);
      });
      assert.ok(result.acked > 12 * 40, `acked ${result.acked}`);
    });

    test('a non-retriable produce error means no PUBACK: the device resends and the reading arrives', async () => {
      const devices = await fleet(6);
      const before = metricValue(await scrape(stack.apiUrl), 'skjold_kafka_points_produced_total', {
        outcome: 'failed',
      });
      const result = await underLoad(
        devices,
        async () => {
          await stack.kafka.requestErrors(KafkaApi.Produce, [KafkaErrors.MESSAGE_TOO_LARGE]);
        },
        5000,
      ); // a device resends what is not acknowledged within its own timeout
      const failed = metricValue(await scrape(stack.apiUrl), 'skjold_kafka_points_produced_total', {
        outcome: 'failed',
      });
      assert.ok(failed > before, 'a batch failed');
      assert.ok(result.resends > 0, 'devices resent what was not acknowledged');
    });
  });
}
