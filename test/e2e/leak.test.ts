/**
 * The leak test on the default (spool) path: besides InfluxDB, logs, /metrics,
 * the API and the registry, the spool's own files are searched. The Kafka
 * path's variant is leak-kafka.test.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../harness/stack.ts';
import { defineLeakTests } from './leak-suite.ts';

defineLeakTests(async () => {
  // Segments stay for the whole test (a drained one is otherwise deleted within
  // seconds), so the spool's files hold every point the test sent to search.
  const stack = await startStack({ SKJOLD_SPOOL_SEGMENT_MAX_AGE_MS: 10 * 60_000 });
  assert.equal(stack.skjold.config.SKJOLD_TRANSPORT, 'spool');
  return {
    ...stack,
    async extraPlaces() {
      const dir = stack.skjold.config.SKJOLD_SPOOL_DIR;
      const files = readdirSync(dir);
      assert.ok(
        files.some((f) => f.endsWith('.seg') && statSync(join(dir, f)).size > 0),
        'the spool holds the points it took',
      );
      return new Map(files.map((f) => [`spool file ${f}`, readFileSync(join(dir, f), 'latin1')]));
    },
  };
});
