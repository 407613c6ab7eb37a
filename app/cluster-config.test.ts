import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/log.ts';
import { createSkjold } from './create-skjold.ts';

test('SKJOLD_REDIS_URL without DATABASE_URL is refused: instances sharing MQTT state must share the registry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skjold-cluster-config-'));
  try {
    const config = loadConfig({ SKJOLD_REDIS_URL: 'redis://127.0.0.1:6379' }, { SKJOLD_DATA_DIR: dir });
    await assert.rejects(createSkjold(config, { logger: createLogger('silent') }), {
      code: 'SKJOLD_ERR_CONFIG',
      message: /DATABASE_URL/,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
