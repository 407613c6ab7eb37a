import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Redis } from 'ioredis';
import { createLogger } from '../lib/log.ts';
import { waitUntil } from '../lib/process/server-process.ts';
import { startRedis } from '../test/harness/redis.ts';
import { type Cluster, createCluster } from './cluster.ts';

/** The emitter's subscriber connection (mqemitter-redis keeps it as `subConn`). */
function subscriber(cluster: Cluster): Redis {
  return (cluster.mq as unknown as { subConn: Redis }).subConn;
}

/** What aedes' close and then Skjold's would do: the emitter's connections, then the rest. */
async function stop(cluster: Cluster): Promise<void> {
  await new Promise<void>((resolve) => cluster.mq.close(() => resolve()));
  await cluster.close();
}

test('ping() answers true while Redis answers and false, quickly, once it is gone', async () => {
  const redis = await startRedis();
  const cluster = createCluster({ redisUrl: redis.url, logger: createLogger('silent') });
  try {
    assert.equal(await cluster.ping(), true);
    await redis.stop();
    const started = Date.now();
    assert.equal(await cluster.ping(), false);
    assert.ok(Date.now() - started < 3_000, 'readiness does not hang on a dead Redis');
  } finally {
    await stop(cluster);
    await redis.stop();
  }
});

/**
 * ioredis lets a (P)SUBSCRIBE through while its connection is still in the
 * handshake; its ready check (INFO) is then refused on what has become a
 * subscriber connection, it reconnects, and the subscription is gone while
 * the caller was told it succeeded: an instance deaf to every other.
 */
test('a subscription made during the Redis handshake still receives what another instance publishes', async () => {
  const redis = await startRedis();
  const logger = createLogger('silent');
  const deaf = createCluster({ redisUrl: redis.url, logger });
  const other = createCluster({ redisUrl: redis.url, logger });
  const topic = '$SYS/skjold-test/+/hello';
  const heard: string[] = [];
  try {
    const sub = subscriber(deaf);
    const statusThen = await new Promise<string>((resolve) =>
      sub.once('connect', () => {
        const status = sub.status;
        deaf.mq.on(
          topic,
          (packet, done) => {
            heard.push(String(packet.payload));
            done();
          },
          () => resolve(status),
        );
      }),
    );
    assert.equal(statusThen, 'connect', 'the subscription went out during the handshake');
    await waitUntil(
      async () => {
        await new Promise<void>((resolve, reject) =>
          other.mq.emit({ topic: '$SYS/skjold-test/b/hello', payload: Buffer.from('hi') }, (err?: Error) =>
            err ? reject(err) : resolve(),
          ),
        );
        return heard.includes('hi');
      },
      { what: 'a publish from the other instance, heard', timeoutMs: 10_000, intervalMs: 100 },
    );
  } finally {
    await stop(deaf);
    await stop(other);
    await redis.stop();
  }
});

test('ping() answers false while Redis answers PING but no longer delivers to this instance', async () => {
  const redis = await startRedis();
  const cluster = createCluster({ redisUrl: redis.url, logger: createLogger('silent') });
  try {
    assert.equal(await cluster.ping(), true);
    // What a lost subscription leaves: a connection Redis answers on, subscribed to nothing.
    await subscriber(cluster).unsubscribe();
    assert.equal(await cluster.ping(), false);
  } finally {
    await stop(cluster);
    await redis.stop();
  }
});
