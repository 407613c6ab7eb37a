import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis } from './redis.ts';

test('startRedis runs a private redis-server that answers, and stop() removes it', async () => {
  const redis = await startRedis();
  const client = new Redis(redis.url);
  try {
    assert.equal(await client.set('k', 'v'), 'OK');
    assert.equal(await client.get('k'), 'v');
  } finally {
    client.disconnect();
    await redis.stop();
  }
  const after = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => null });
  after.on('error', () => {});
  await assert.rejects(after.connect());
  after.disconnect();
});
