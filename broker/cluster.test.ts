import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../lib/log.ts';
import { waitUntil } from '../lib/process/server-process.ts';
import { startRedis } from '../test/harness/redis.ts';
import { createCluster } from './cluster.ts';

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
    await new Promise<void>((resolve) => cluster.mq.close(() => resolve()));
    await cluster.close();
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
    const sub = (deaf.mq as unknown as { subConn: NodeJS.EventEmitter & { status: string } }).subConn;
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
    for (const c of [deaf, other]) {
      await new Promise<void>((resolve) => c.mq.close(() => resolve()));
      await c.close();
    }
    await redis.stop();
  }
});

test('ping() answers false while Redis answers PING but no longer delivers to this instance', async () => {
  const redis = await startRedis();
  const cluster = createCluster({ redisUrl: redis.url, logger: createLogger('silent') });
  try {
    assert.equal(await cluster.ping(), true);
    // What a lost subscription leaves: a connection Redis answers on, subscribed to nothing.
    const sub = (cluster.mq as unknown as { subConn: { unsubscribe(): Promise<unknown> } }).subConn;
    await sub.unsubscribe();
    assert.equal(await cluster.ping(), false);
  } finally {
    await new Promise<void>((resolve) => cluster.mq.close(() => resolve()));
    await cluster.close();
    await redis.stop();
  }
});
