/**
 * The helper every e2e test reads Skjold's metrics with: a metric that is not
 * in the exposition fails the reading instead of counting as 0, so a renamed
 * or removed metric cannot turn an assertion such as "nothing was rejected"
 * into one that always holds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../lib/metrics.ts';
import { metricValue } from './metrics.ts';

test('metricValue: a name the exposition does not declare throws; a declared one with no sample yet is 0', async () => {
  const metrics = createMetrics();
  metrics.ingestRejected.inc({ kind: 'heat_meter', reason: 'schema' }, 2);
  const text = await metrics.registry.metrics();

  assert.equal(metricValue(text, 'skjold_ingest_rejected_total', { reason: 'schema' }), 2);
  assert.equal(metricValue(text, 'skjold_ingest_rejected_total', { reason: 'json' }), 0);
  assert.equal(metricValue(text, 'skjold_mqtt_forbidden_total', { action: 'publish' }), 0);
  assert.equal(metricValue(text, 'skjold_spool_fsync_seconds_count'), 0);
  assert.throws(
    () => metricValue(text, 'skjold_ingest_rejects_total'),
    /no metric named skjold_ingest_rejects_total/,
  );
  assert.throws(() => metricValue(text, 'skjold_spool_fsync_seconds_total'), /no metric named/);
});
