import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Client } from 'aedes';
import { attachFastPath } from './fast-path.ts';

const deps = { route: () => undefined };

test('a client without the aedes 1.2 internals the fast path needs is left to aedes, untouched', () => {
  assert.equal(attachFastPath({} as unknown as Client, deps), false);
  const parser = new EventEmitter();
  const enqueue = () => {};
  parser.on('packet', enqueue);
  // No read batching (_nextBatch, _parsingBatch): another shape of client.
  const client = { _parser: parser } as unknown as Client;
  assert.equal(attachFastPath(client, deps), false);
  assert.deepEqual(parser.listeners('packet'), [enqueue], "aedes' own packet handler still in place");
});
