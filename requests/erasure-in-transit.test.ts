/**
 * Erasure (art. 17) of a subject whose readings were acknowledged but are not
 * in InfluxDB yet: still in the spool (its drainer waits out a long partial
 * batch) or still on the Kafka topic (no store writer is running yet). The
 * erasure must wait for them (Transport.drained, requests/erasure.ts) and then
 * drop them: once the transport has drained, none of the subject's readings is
 * in InfluxDB, while another device's readings, sent alongside, are.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createKafkaPipeline } from '../app/kafka.ts';
import { storeWriterFromConfig } from '../app/wiring.ts';
import {
  addDevice,
  addTenant,
  connectDevice,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from '../test/e2e/devices.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { type InfluxdServer, startInfluxd } from '../test/harness/influxd.ts';
import { startKafkaStack } from '../test/harness/kafka-stack.ts';
import type { Stack } from '../test/harness/stack.ts';
import { startStack } from '../test/harness/stack.ts';
import { ALL_SCOPES, callAs, issueToken } from '../test/harness/tenant-api.ts';

const READINGS = 6;
let influx: InfluxdServer;

before(async () => {
  influx = await startInfluxd();
});
after(() => influx.stop());

/** A tenant with a subject's sensor and another sensor, both having published readings the store does not hold yet. */
async function readingsInTransit(stack: Stack, tenant: string) {
  await addTenant(stack.api, tenant);
  const ids = identifierSource(tenant);
  const subjects = await addDevice(stack.api, ids, tenant, 'building_sensor');
  const others = await addDevice(stack.api, ids, tenant, 'building_sensor');
  const { token } = await issueToken(stack, tenant, ALL_SCOPES);
  const link = await callAs(stack, token, 'PUT', '/tenant/v1/subjects/kunde-1/devices', {
    identifiers: { serial: subjects.login },
  });
  assert.equal(link.status, 200, link.body);
  for (const d of [subjects, others]) {
    const client = await connectDevice(stack.mqttUrl, d);
    for (let seq = 0; seq < READINGS; seq++) {
      await publishAcked(
        client,
        d.telemetry,
        JSON.stringify(validReading(d, seq, Date.now() - 60_000 + seq)),
      );
    }
    await client.endAsync();
  }
  const stored = (d: TestDevice) =>
    rows(stack.skjold.store, tenant, `SELECT seq FROM building_sensor WHERE device = '${d.pseudonym}'`).then(
      (r) => r.length,
    );
  // The point of the test: acknowledged, yet not in InfluxDB when the erasure comes.
  assert.equal(await stored(subjects), 0, 'the subject’s readings are still in transit');
  assert.equal(await stored(others), 0, 'the other readings are still in transit');
  const erase = () => callAs(stack, token, 'POST', '/tenant/v1/subjects/kunde-1/erase', {});
  return { subjects, others, stored, erase };
}

test('spool: readings still in the spool when the subject is erased never reach InfluxDB', async () => {
  // A partial batch waits 4 s before the drainer writes it: the readings sit in the spool meanwhile.
  const stack = await startStack({ SKJOLD_BATCH_MAX_WAIT_MS: 4_000 }, { influx });
  try {
    assert.equal(stack.config.SKJOLD_TRANSPORT, 'spool');
    const t = await readingsInTransit(stack, 'spoolvarme');
    assert.ok(stack.skjold.transport.buffered() >= 2 * READINGS, 'the readings are in the spool');

    const res = await t.erase();
    assert.equal(res.status, 200, res.body);
    await stack.settled();
    assert.equal(await t.stored(t.subjects), 0, 'none of the subject’s readings came back');
    assert.equal(await t.stored(t.others), READINGS, 'the other device’s readings arrived');
  } finally {
    await stack.stop();
  }
});

test('Kafka: readings still on the topic when the subject is erased never reach InfluxDB', async () => {
  // Ingest only: the readings wait on the topic until a store writer joins the group.
  const stack = await startKafkaStack({ SKJOLD_KAFKA_WRITER: 'off' }, { influx });
  const { metrics, logger, store } = stack.skjold;
  let writer: { stop(): Promise<void> } | undefined;
  try {
    const t = await readingsInTransit(stack, 'kafkavarme');
    const erasing = t.erase();
    // The writer starts only once the erasure has been asked for: it must wait for what the writer stores.
    const pipeline = await createKafkaPipeline(stack.config, { metrics, logger });
    writer = await pipeline.startWriter(
      storeWriterFromConfig(stack.config, { store, metrics, logger, stopping: () => false }),
    );
    const res = await erasing;
    assert.equal(res.status, 200, res.body);
    await stack.settled();
    assert.equal(await t.stored(t.subjects), 0, 'none of the subject’s readings came back');
    assert.equal(await t.stored(t.others), READINGS, 'the other device’s readings arrived');
  } finally {
    await writer?.stop();
    await stack.stop();
  }
});
