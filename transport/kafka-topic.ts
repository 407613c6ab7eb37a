import type { Admin, ConfigResourceTypes, Kafka } from 'kafkajs';
import type { Config } from '../lib/config.ts';
import { SkjoldError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';

const HOUR_MS = 3_600_000;
/** kafkajs' ConfigResourceTypes.TOPIC (a TypeScript enum kafkajs' ESM entry does not export by name). */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
/**
 * Kafka deletes whole segments, once their newest record is older than
 * `retention.ms`; the segment being written is never deleted. Rolling a new
 * segment every hour bounds how long a point outlives `retention.ms`.
 */
export const SEGMENT_MS = HOUR_MS;

/** The topic configs Skjold creates its topic with: time-bounded, never compacted. */
export function topicConfigEntries(config: Pick<Config, 'SKJOLD_KAFKA_RETENTION_HOURS'>) {
  const retentionMs = config.SKJOLD_KAFKA_RETENTION_HOURS * HOUR_MS;
  return [
    { name: 'cleanup.policy', value: 'delete' },
    { name: 'retention.ms', value: String(retentionMs) },
    { name: 'segment.ms', value: String(Math.min(SEGMENT_MS, retentionMs)) },
  ];
}

/**
 * What is wrong with an existing topic's retention, or undefined when a point
 * is gone from it at most `SKJOLD_KAFKA_RETENTION_HOURS` + 1 h after it was
 * produced. `entries` are the topic's effective configs (DescribeConfigs).
 */
export function retentionProblem(
  entries: ReadonlyArray<{ configName: string; configValue: string | null }>,
  retentionHours: number,
): string | undefined {
  const value = (name: string) => entries.find((e) => e.configName === name)?.configValue ?? undefined;
  const boundMs = retentionHours * HOUR_MS;
  const policy = value('cleanup.policy');
  if (policy === undefined || !policy.split(',').includes('delete')) {
    // A compacted topic keeps each device's latest point forever: the key is the device pseudonym.
    return `its cleanup.policy is ${policy ?? 'unknown'}, not delete, so points are kept without a time limit`;
  }
  const retention = Number(value('retention.ms'));
  if (!Number.isFinite(retention) || retention < 0) return 'its retention.ms is unbounded (-1) or unknown';
  if (retention > boundMs) {
    return `its retention.ms is ${retention} (${(retention / HOUR_MS).toFixed(1)} h), longer than SKJOLD_KAFKA_RETENTION_HOURS=${retentionHours}`;
  }
  const segment = Number(value('segment.ms'));
  if (!Number.isFinite(segment) || retention + segment > boundMs + SEGMENT_MS) {
    return `its segment.ms is ${value('segment.ms') ?? 'unknown'}: a segment is deleted only once rolled, so points could stay ${((retention + segment) / HOUR_MS).toFixed(1)} h; set segment.ms ≤ ${boundMs + SEGMENT_MS - retention}`;
  }
  return undefined;
}

async function describeTopic(admin: Admin, topic: string) {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: TOPIC_RESOURCE, name: topic }],
  });
  const resource = described.resources[0];
  if (resource?.errorCode !== 0) {
    throw new Error(resource?.errorMessage ?? 'no answer for the topic');
  }
  return resource.configEntries;
}

/**
 * Creates the topic with a bounded retention when it does not exist; an
 * existing topic is checked, not changed. Art. 17: an erased device's points
 * still on the topic are deleted only when its retention expires, so that
 * retention must be bounded and short (docs/privacy.md). A topic that keeps
 * points longer, or whose configs cannot be read, is refused
 * (SKJOLD_KAFKA_RETENTION_CHECK=refuse) or started with an error logged (warn).
 */
export async function ensureTopic(kafka: Kafka, config: Config, logger: Logger): Promise<void> {
  const topic = config.SKJOLD_KAFKA_TOPIC;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: config.SKJOLD_KAFKA_PARTITIONS,
            replicationFactor: config.SKJOLD_KAFKA_REPLICATION,
            configEntries: topicConfigEntries(config),
          },
        ],
      });
      return;
    }
    let problem: string | undefined;
    try {
      problem = retentionProblem(await describeTopic(admin, topic), config.SKJOLD_KAFKA_RETENTION_HOURS);
    } catch (err) {
      problem = `its configs could not be read (DescribeConfigs: ${(err as Error).message})`;
    }
    if (!problem) return;
    const hours = config.SKJOLD_KAFKA_RETENTION_HOURS;
    const advice = `set retention.ms ≤ ${hours * HOUR_MS}, segment.ms ≤ ${SEGMENT_MS} and cleanup.policy=delete on the topic (kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config …), or raise SKJOLD_KAFKA_RETENTION_HOURS`;
    const message = `Kafka topic ${topic} does not bound how long it keeps points: ${problem}. Erased points would stay on it (art. 17); ${advice}`;
    if (config.SKJOLD_KAFKA_RETENTION_CHECK === 'refuse') {
      throw new SkjoldError(
        'SKJOLD_ERR_CONFIG',
        `${message}; or start anyway with SKJOLD_KAFKA_RETENTION_CHECK=warn`,
      );
    }
    logger.error(
      { topic, retentionCheck: 'warn' },
      `${message}. Starting anyway (SKJOLD_KAFKA_RETENTION_CHECK=warn)`,
    );
  } finally {
    await admin.disconnect();
  }
}
