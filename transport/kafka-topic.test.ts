import '../test/harness/kafkajs-mock-controller.ts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { type KafkaMock, startKafkaMock } from '../test/harness/kafka-mock.ts';
import { createKafkaClient } from './kafka-client.ts';
import { ensureTopic, retentionProblem, topicConfigEntries } from './kafka-topic.ts';

/**
 * Art. 17: an erased device's points on the Kafka topic go only when the
 * topic's retention deletes them, so Skjold creates its topic with a bounded
 * retention and will not start on one that keeps points longer.
 *
 * librdkafka 2.0's mock cluster answers neither DescribeConfigs nor
 * CreateTopics ("does not support the requested API version"). Against it the
 * tests below prove what Skjold does when a topic's configs cannot be read;
 * the verdict on configs a real broker reports is tested on those answers,
 * in the shape kafkajs' describeConfigs returns them.
 */
const H = 3_600_000;
const entries = (configs: Record<string, string | null>) =>
  Object.entries(configs).map(([configName, configValue]) => ({ configName, configValue }));

test('a topic is accepted when a point is gone from it at most the bound + 1 h after it was produced', () => {
  const bounded = { 'cleanup.policy': 'delete', 'retention.ms': String(72 * H), 'segment.ms': String(H) };
  assert.equal(retentionProblem(entries(bounded), 72), undefined);
  assert.equal(retentionProblem(entries({ ...bounded, 'retention.ms': String(24 * H) }), 72), undefined);
  assert.equal(retentionProblem(entries({ ...bounded, 'cleanup.policy': 'compact,delete' }), 72), undefined);
  // A shorter retention leaves room for longer segments within the same bound.
  assert.equal(
    retentionProblem(
      entries({ ...bounded, 'retention.ms': String(24 * H), 'segment.ms': String(49 * H) }),
      72,
    ),
    undefined,
  );
});

test('unbounded, longer, compacted, long-segment or unknown retention is a problem, and says which', () => {
  const bounded = { 'cleanup.policy': 'delete', 'retention.ms': String(24 * H), 'segment.ms': String(H) };
  const problem = (configs: Record<string, string | null>) => retentionProblem(entries(configs), 24);
  assert.match(problem({ ...bounded, 'retention.ms': '-1' }) ?? '', /unbounded/);
  assert.match(
    problem({ ...bounded, 'retention.ms': String(168 * H) }) ?? '',
    /168\.0 h.*SKJOLD_KAFKA_RETENTION_HOURS=24/,
  );
  assert.match(problem({ ...bounded, 'cleanup.policy': 'compact' }) ?? '', /cleanup\.policy is compact/);
  // Kafka's default segment.ms is 7 days: the open segment is never deleted, so points would stay that long.
  assert.match(problem({ ...bounded, 'segment.ms': String(168 * H) }) ?? '', /segment\.ms/);
  assert.match(problem({ 'cleanup.policy': 'delete' }) ?? '', /unknown/);
  assert.match(problem({ ...bounded, 'retention.ms': null }) ?? '', /unknown/);
  assert.match(problem({}) ?? '', /cleanup\.policy is unknown/);
});

test('the topic Skjold creates passes its own check', () => {
  for (const hours of [1, 24, 72, 24 * 30]) {
    const created = topicConfigEntries({ SKJOLD_KAFKA_RETENTION_HOURS: hours });
    const asDescribed = created.map((e) => ({ configName: e.name, configValue: e.value }));
    assert.equal(retentionProblem(asDescribed, hours), undefined, `${hours} h`);
    assert.equal(created.find((e) => e.name === 'retention.ms')?.value, String(hours * H));
  }
});

let mock: KafkaMock;
before(async () => {
  mock = await startKafkaMock({ brokers: 3 });
  await mock.createTopic('existing', 2, 3);
});
after(async () => {
  await mock.stop();
});

function logCapture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', {
    write: (line: string) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { logger, lines };
}

const configFor = (extra: Record<string, string> = {}) =>
  loadConfig({
    SKJOLD_TRANSPORT: 'kafka',
    SKJOLD_KAFKA_BROKERS: mock.bootstrap,
    SKJOLD_KAFKA_TOPIC: 'existing',
    ...extra,
  });

test('an existing topic whose retention cannot be read is refused by default, with SKJOLD_ERR_CONFIG saying what to do', async () => {
  const config = configFor();
  assert.equal(config.SKJOLD_KAFKA_RETENTION_CHECK, 'refuse');
  const { logger } = logCapture();
  await assert.rejects(ensureTopic(createKafkaClient(config, logger), config, logger), (err: Error) => {
    assert.equal((err as Error & { code?: string }).code, 'SKJOLD_ERR_CONFIG');
    assert.match(err.message, /topic existing does not bound how long it keeps points/);
    assert.match(err.message, /could not be read \(DescribeConfigs/);
    assert.match(err.message, /art\. 17/);
    assert.match(err.message, /retention\.ms ≤ 259200000/); // the 72 h default
    assert.match(err.message, /SKJOLD_KAFKA_RETENTION_CHECK=warn/);
    return true;
  });
});

test('with SKJOLD_KAFKA_RETENTION_CHECK=warn the same topic is used, and an error is logged at start', async () => {
  const config = configFor({ SKJOLD_KAFKA_RETENTION_CHECK: 'warn', SKJOLD_KAFKA_RETENTION_HOURS: '24' });
  const { logger, lines } = logCapture();
  await ensureTopic(createKafkaClient(config, logger), config, logger);
  const logged = lines.find((l) => String(l.msg).includes('does not bound how long it keeps points'));
  assert.ok(logged, `no warning among ${lines.length} log lines`);
  assert.equal(logged.level, 50); // error: it needs someone to act
  assert.match(String(logged.msg), /retention\.ms ≤ 86400000/);
  assert.match(String(logged.msg), /Starting anyway/);
});
