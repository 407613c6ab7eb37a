import type { Kafka } from 'kafkajs';

/**
 * Waits until the consumer group `groupId` has committed, on every partition
 * of `topic`, up to the end offsets Kafka reports at the call: every point
 * produced before it has reached the store writers and been written.
 */
export async function waitForGroup(
  kafka: Kafka,
  topic: string,
  groupId: string,
  pollMs: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      const behind = ends.some((e) => BigInt(e.high) > 0n && (at.get(e.partition) ?? -1n) < BigInt(e.high));
      if (!behind) return;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    await admin.disconnect();
  }
}
