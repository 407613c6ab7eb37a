import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../lib/log.ts';
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
