import type { Admin, Consumer } from 'kafkajs';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';

export interface OffsetGapOptions {
  admin: Admin;
  consumer: Consumer;
  topic: string;
  groupId: string;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Notices records Kafka deleted before the writers' group stored them, and
 * says so. A fetch below a partition's log start offset (retention deleted
 * the records, or librdkafka's mock cluster dropped its oldest beyond 5 MiB)
 * fails with OFFSET_OUT_OF_RANGE, and kafkajs 2.2 then commits the default
 * offset and fetches from there (consumerGroup.js recoverFromOffsetOutOfRange,
 * offsetManager setDefaultOffset: the earliest, as the writers subscribe
 * fromBeginning) with one log line and no error to its caller. The records in
 * between were acknowledged to devices and are gone: the next batch of that
 * partition starts after the offset the group had committed.
 *
 * So each assignment holds the topic (pause) until the group's committed
 * offsets are read, before kafkajs can fetch and overwrite them with its
 * reset; from then on the next expected offset is kept per partition as
 * batches are stored. A batch that starts later than expected, over records
 * the log no longer has, is counted as
 * `skjold_kafka_points_consumed_total{outcome="expired"}` and logged at error
 * with offsets and counts only. Skjold's producer is idempotent, not
 * transactional, and the topic is never compacted, so its offsets have no
 * holes of their own. A group with no committed offset has no expectation: it
 * starts at the earliest record Kafka still has.
 */
export function createOffsetGapDetector(options: OffsetGapOptions) {
  const { admin, consumer, topic, groupId, metrics, logger } = options;
  let expected = new Map<number, bigint>();
  let generation = 0;

  async function committedOffsets(): Promise<Map<number, bigint>> {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const offsets = new Map<number, bigint>();
    for (const p of committed?.partitions ?? []) {
      const offset = BigInt(p.offset);
      // -1: never committed; -2: kafkajs' own reset marker. Neither says where the group was.
      if (offset >= 0n) offsets.set(p.partition, offset);
    }
    return offsets;
  }

  /** Called on every (re)join: reads where the group stands before the first fetch. */
  function assigned(): void {
    const current = ++generation;
    expected = new Map();
    consumer.pause([{ topic }]);
    void (async () => {
      try {
        // Bounded: consumption waits for this read, and must not wait on it for ever.
        const offsets = await Promise.race([
          committedOffsets(),
          new Promise<never>((_, reject) =>
            setTimeout(
              () => reject(new Error('reading the committed offsets took over 10 s')),
              10_000,
            ).unref(),
          ),
        ]);
        if (current === generation) expected = offsets;
      } catch (err) {
        logger.warn(
          { err },
          'committed offsets not read: records deleted unstored go unnoticed until the next rebalance',
        );
      }
      if (current !== generation) return;
      try {
        consumer.resume([{ topic }]);
      } catch {
        // The writer stopped meanwhile: there is nothing to resume.
      }
    })();
  }

  /** Before a batch is stored: reports records between the expected offset and the batch's first. */
  async function check(partition: number, firstOffset: string): Promise<void> {
    const want = expected.get(partition);
    const first = BigInt(firstOffset);
    if (want === undefined || first <= want) return;
    const where = { partition, expectedOffset: want.toString(), firstOffset };
    const low = await admin
      .fetchTopicOffsets(topic)
      .then((parts) => parts.find((p) => p.partition === partition)?.low)
      .catch(() => undefined);
    if (low !== undefined && BigInt(low) >= first) {
      const records = Number(first - want);
      metrics.kafkaConsumed.inc({ outcome: 'expired' }, records);
      logger.error(
        { ...where, logStartOffset: low, records },
        'records deleted from Kafka before the store writers stored them: lost. Keep the topic retention longer than the longest store outage',
      );
    } else {
      // Not (only) deletion: e.g. a former owner of the partition committed after we read the offsets.
      logger.warn({ ...where, logStartOffset: low }, 'a batch started after the offset this writer expected');
    }
  }

  /** After a batch is stored and resolved: the partition continues at `next`. */
  function stored(partition: number, next: bigint): void {
    const want = expected.get(partition);
    if (want === undefined || next > want) expected.set(partition, next);
  }

  return { assigned, check, stored };
}
