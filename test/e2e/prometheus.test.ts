/**
 * Prometheus for real: Debian's prometheus, configured from
 * deploy/prometheus.yml (same job, same metrics path, the target rewritten to
 * this test's Skjold), scrapes Skjold while devices send a known load; its
 * query API must then count exactly what the devices had acknowledged.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PrometheusServer, startPrometheus } from '../harness/prometheus.ts';
import { type Stack, startStack } from '../harness/stack.ts';
import { addTenantFleet, connectDevice, endAll, eventually, publishAcked, validReading } from './devices.ts';

const DEVICES = 6;
const PER_DEVICE = 25;
const BAD = { json: 3, not_object: 2 };

let stack: Stack;
let prometheus: PrometheusServer;

// As deployed: /metrics wants the token, and Prometheus reads it from the file its config names.
const METRICS_TOKEN = 'prometheus-scrape-token-0123456789';

before(async () => {
  stack = await startStack({ SKJOLD_METRICS_TOKEN: METRICS_TOKEN });
  prometheus = await startPrometheus({
    target: new URL(stack.apiUrl).host,
    metricsToken: METRICS_TOKEN,
    scrapeInterval: '1s',
  });
});
after(async () => {
  await prometheus?.stop();
  await stack?.stop();
});

const value = async (promql: string): Promise<number | undefined> => {
  const [first] = await prometheus.query(promql);
  return first === undefined ? undefined : Number(first.value[1]);
};

test('the Prometheus config is deploy/prometheus.yml’s job, path and scrape token, pointed at this Skjold', async () => {
  assert.match(prometheus.config, /job_name: skjold\b/);
  assert.match(prometheus.config, /metrics_path: \/metrics\b/);
  assert.match(prometheus.config, /type: Bearer/);
  await eventually('prometheus has scraped Skjold once', async () =>
    (await prometheus.targets()).some((t) => t.health === 'up'),
  );
  const [target] = await prometheus.targets();
  assert.equal(target?.scrapeUrl, `${stack.apiUrl}/metrics`);
  assert.equal(await value('up{job="skjold"}'), 1);
});

test('after a known load, Prometheus counts exactly the messages devices had acknowledged, and the rejections', async () => {
  const devices = await addTenantFleet(stack.api, 'prom-varme', DEVICES);
  const clients = await Promise.all(devices.map((d) => connectDevice(stack.mqttUrl, d)));
  let acked = 0;
  try {
    await Promise.all(
      devices.map(async (d, i) => {
        const client = clients[i];
        assert.ok(client);
        for (let seq = 0; seq < PER_DEVICE; seq++) {
          await publishAcked(client, d.telemetry, JSON.stringify(validReading(d, seq)));
          acked++;
        }
      }),
    );
    const [first, second] = clients;
    assert.ok(first && second && devices[0] && devices[1]);
    for (let i = 0; i < BAD.json; i++) await publishAcked(first, devices[0].telemetry, `{"broken": ${i}`);
    for (let i = 0; i < BAD.not_object; i++) await publishAcked(second, devices[1].telemetry, '[]');
  } finally {
    await endAll(clients);
  }
  assert.equal(acked, DEVICES * PER_DEVICE);
  const loadEnd = Date.now();

  // Not a guess at timing: wait for a scrape that started after the last PUBACK.
  await eventually(
    'a scrape after the load',
    async () => {
      const [t] = await prometheus.targets();
      return t !== undefined && t.health === 'up' && Date.parse(t.lastScrape) > loadEnd;
    },
    30_000,
  );
  assert.equal(await value('sum(skjold_ingest_messages_total{job="skjold",outcome="stored"})'), acked);
  assert.equal(
    await value('sum(skjold_ingest_messages_total{job="skjold",outcome="rejected"})'),
    BAD.json + BAD.not_object,
  );
  const byReason = await prometheus.query('sum by (reason) (skjold_ingest_rejected_total{job="skjold"})');
  assert.deepEqual(Object.fromEntries(byReason.map((r) => [r.metric.reason, Number(r.value[1])])), BAD);
  // The console's fleet health counts the same rejections as Prometheus does.
  const health = await fetch(`${stack.apiUrl}/v1/fleet/health`, {
    headers: { authorization: `Bearer ${stack.config.SKJOLD_OPERATOR_TOKEN}` },
  });
  const { rejections } = (await health.json()) as {
    rejections: { byReason: { reason: string; count: number }[] };
  };
  assert.deepEqual(Object.fromEntries(rejections.byReason.map((r) => [r.reason, r.count])), BAD);

  await stack.settled();
  await eventually('the stored points reach Prometheus too', async () => {
    return (await value('skjold_store_points_written_total{job="skjold"}')) === acked;
  });
});
