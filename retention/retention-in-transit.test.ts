/**
 * A retention run while a due contract's readings were acknowledged but are
 * still in the spool (its drainer waits out a long partial batch): the run
 * must wait for them (Transport.drained, retention/retention.ts) and then
 * delete them, so once the spool has drained none of them is in InfluxDB,
 * while a running contract's readings, sent alongside, are.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { telemetryTopic } from '../broker/topics.ts';
import {
  addDevice,
  addTenant,
  connectAs,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from '../test/e2e/devices.ts';
import { rows } from '../test/harness/influx-rows.ts';
import { startStack } from '../test/harness/stack.ts';

const TENANT = 'transitvarme';
const READINGS = 6;

test('readings of a due contract still in the spool when retention runs never reach InfluxDB', async () => {
  // A partial batch waits 4 s before the drainer writes it: the readings sit in the spool meanwhile.
  const stack = await startStack({ SKJOLD_BATCH_MAX_WAIT_MS: 4_000 });
  try {
    assert.equal(stack.config.SKJOLD_TRANSPORT, 'spool');
    await addTenant(stack.api, TENANT);
    // Ended long ago: due today under the default policy (end + one year).
    await stack.api.createContract(TENANT, {
      id: 'ended',
      role: 'processor',
      purpose: 'indoor climate',
      legalBasis: 'contract',
      startsOn: '2020-01-01',
      endsOn: '2020-12-31',
      jurisdiction: 'DK',
    });
    const ids = identifierSource(TENANT);
    const serial = ids.serial();
    const secret = randomBytes(16).toString('hex');
    const registered = await stack.api.addDevice(TENANT, {
      kind: 'building_sensor',
      contractId: 'ended',
      identifiers: { serial },
      secret,
    });
    const due: TestDevice = {
      tenantId: TENANT,
      kind: 'building_sensor',
      id: registered.id,
      login: serial,
      secret,
      pseudonym: registered.pseudonym,
      identifiers: { serial },
      telemetry: telemetryTopic(serial),
      commands: '',
    };
    const running = await addDevice(stack.api, ids, TENANT, 'building_sensor');
    for (const d of [due, running]) {
      const client = await connectAs(stack.mqttUrl, d.login, d.secret);
      for (let seq = 0; seq < READINGS; seq++) {
        await publishAcked(
          client,
          d.telemetry,
          JSON.stringify(validReading(d, seq, Date.now() - 60_000 + seq)),
        );
      }
      await client.endAsync();
    }
    const stored = async (d: TestDevice) =>
      (
        await rows(
          stack.skjold.store,
          TENANT,
          `SELECT seq FROM building_sensor WHERE device = '${d.pseudonym}'`,
        )
      ).length;
    // The point of the test: acknowledged, yet not in InfluxDB when the run starts.
    assert.equal(await stored(due), 0, 'the due contract’s readings are still in transit');
    assert.ok(stack.skjold.transport.buffered() >= 2 * READINGS, 'the readings are in the spool');

    await stack.api.call('POST', `/v1/retention/run?tenant=${TENANT}`, {});
    await stack.settled();
    assert.equal(await stored(due), 0, 'none of the due contract’s readings came back');
    assert.equal(await stored(running), READINGS, 'the running contract’s readings arrived');
  } finally {
    await stack.stop();
  }
});
