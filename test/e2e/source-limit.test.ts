/**
 * A flood of bad logins from one source address does not starve devices
 * elsewhere: after SOURCE_MAX_FAILURES failed logins the source is refused
 * without a password hash (scrypt), before the broker-wide connection rate,
 * while a device connecting from another address (127.0.0.2) keeps being served.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rows } from '../harness/influx-rows.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import {
  addDevice,
  addTenant,
  connectAs,
  connectAsFrom,
  identifierSource,
  publishAcked,
  type TestDevice,
  validReading,
} from './devices.ts';
import { metric } from './metrics.ts';

const TENANT = 'flooded';
const SOURCE_MAX_FAILURES = 10;
const FLOOD_ATTEMPTS = 300;
const FLOOD_CONCURRENCY = 10;
// Low enough that 300 attempts would use it up if the flood counted against it.
const CONNECT_RATE = 20; // per second, burst 2×

let stack: Stack;
let victim: TestDevice;
let honest: TestDevice;

before(async () => {
  stack = await startStack({
    SKJOLD_MQTT_CONNECT_RATE: CONNECT_RATE,
    SKJOLD_MQTT_SOURCE_MAX_FAILURES: SOURCE_MAX_FAILURES,
    SKJOLD_MQTT_SOURCE_FAILURE_WINDOW_SECONDS: 600,
  });
  await addTenant(stack.api, TENANT);
  const ids = identifierSource(TENANT);
  victim = await addDevice(stack.api, ids, TENANT, 'sim_unit');
  honest = await addDevice(stack.api, ids, TENANT, 'heat_meter');
});
after(() => stack.stop());

type Outcome = { refused: 'connack_4' | 'connack_3' | 'dropped'; ms: number };

/** One bad login from 127.0.0.1; how it was refused and how long that took. */
async function badLogin(): Promise<Outcome> {
  const start = performance.now();
  const err = await connectAs(stack.mqttUrl, victim.login, 'not-the-secret-0123456789abcdef').then(
    async (client) => {
      await client.endAsync(true);
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err, 'a bad login was accepted');
  const code = (err as { code?: unknown }).code;
  const refused = code === 4 ? 'connack_4' : code === 3 ? 'connack_3' : 'dropped';
  return { refused, ms: performance.now() - start };
}

test(`${FLOOD_ATTEMPTS} bad logins from one address: refused quickly without scrypt after ${SOURCE_MAX_FAILURES}, while a device on another address keeps publishing`, async () => {
  const hashedBefore = await metric(stack.apiUrl, 'skjold_mqtt_connect_refused_total', {
    reason: 'bad_secret',
  });
  const outcomes: Outcome[] = [];
  let next = 0;
  let flooding = true;
  const flood = Promise.all(
    Array.from({ length: FLOOD_CONCURRENCY }, async () => {
      while (next < FLOOD_ATTEMPTS) {
        const index = next++;
        outcomes[index] = await badLogin();
      }
    }),
  ).finally(() => {
    flooding = false;
  });

  // The honest device connects, publishes and leaves, again and again, from 127.0.0.2.
  let seq = 0;
  const published: number[] = [];
  let duringFlood = 0;
  while (flooding || seq < 5) {
    if (flooding) duringFlood++;
    const client = await connectAsFrom('127.0.0.2', stack.mqttUrl, honest.login, honest.secret);
    seq++;
    await publishAcked(client, honest.telemetry, JSON.stringify(validReading(honest, seq)));
    published.push(seq);
    await client.endAsync();
  }
  await flood;

  assert.equal(outcomes.length, FLOOD_ATTEMPTS);
  // Each CONNACK 4 cost one scrypt; the rest cost none.
  const hashed = outcomes.filter((o) => o.refused === 'connack_4').length;
  assert.ok(
    hashed >= SOURCE_MAX_FAILURES && hashed <= SOURCE_MAX_FAILURES + FLOOD_CONCURRENCY,
    `${hashed} bad logins were hashed; at most ${SOURCE_MAX_FAILURES} + ${FLOOD_CONCURRENCY} in flight`,
  );
  assert.equal(
    (await metric(stack.apiUrl, 'skjold_mqtt_connect_refused_total', { reason: 'bad_secret' })) -
      hashedBefore,
    hashed,
    'the broker counted the same number of hashed refusals',
  );
  // In start order: the block took effect before the attempt after the last one that could be in flight.
  const cheap = outcomes.slice(SOURCE_MAX_FAILURES + FLOOD_CONCURRENCY);
  assert.ok(
    cheap.every((o) => o.refused !== 'connack_4'),
    'past the block no attempt reached the password check',
  );
  const slowest = Math.max(...cheap.map((o) => o.ms));
  assert.ok(slowest < 1000, `refused attempts took up to ${Math.round(slowest)} ms`);

  assert.ok(published.length >= 5, `the honest device published ${published.length} times`);
  assert.ok(duringFlood >= 1, 'the honest device connected while the flood went on');
  const stored = await rows(stack.skjold.store, TENANT, 'SELECT seq FROM heat_meter');
  assert.deepEqual(
    stored.map((r) => Number(r.seq)).sort((a, b) => a - b),
    published,
    'every reading of the honest device was stored',
  );

  assert.equal(await metric(stack.apiUrl, 'skjold_mqtt_source_blocks_total'), 1, 'one block, for 127.0.0.1');
  const dropped = await metric(stack.apiUrl, 'skjold_mqtt_limit_enforced_total', { limit: 'source_blocked' });
  const refusedAtConnect = await metric(stack.apiUrl, 'skjold_mqtt_connect_refused_total', {
    reason: 'source_blocked',
  });
  assert.equal(
    dropped + refusedAtConnect,
    FLOOD_ATTEMPTS - hashed,
    'every unhashed attempt was refused as from a blocked source, and counted',
  );
  assert.ok((await metric(stack.apiUrl, 'skjold_mqtt_sources_tracked')) >= 2);
  assert.ok(
    stack.logs.some((l) => l.includes('too many failed MQTT logins') && l.includes('"source":"127.0.0.1"')),
    'the block is logged with its source',
  );
});

test('the blocked address stays refused, even with the right secret; other addresses are not', async () => {
  await assert.rejects(connectAs(stack.mqttUrl, honest.login, honest.secret));
  const client = await connectAsFrom('127.0.0.2', stack.mqttUrl, honest.login, honest.secret);
  await client.endAsync();
});
