import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  JEMALLOC_CONF,
  JEMALLOC_PATHS,
  RUNTIME_NODE_OPTIONS,
  runtimeEnv,
  tunedExecArgv,
} from './runtime-tuning.ts';

test('the runtime node options come first, the user’s own after them', () => {
  assert.deepEqual(tunedExecArgv(['--enable-source-maps']), [
    ...RUNTIME_NODE_OPTIONS,
    '--enable-source-maps',
  ]);
  // Already tuned (the re-exec'd process): nothing is added twice.
  assert.deepEqual(tunedExecArgv(tunedExecArgv([])), [...RUNTIME_NODE_OPTIONS]);
});

test('a V8 option the user chose is kept, however it was spelled or given, and only that one', () => {
  for (const own of ['--max-semi-space-size=64', '--max_semi_space_size=64']) {
    assert.deepEqual(tunedExecArgv([own]), ['--heap-growing-percent=100', own]);
  }
  assert.deepEqual(tunedExecArgv([], '--trace-warnings --max-semi-space-size=8'), [
    '--heap-growing-percent=100',
  ]);
  assert.deepEqual(tunedExecArgv(['--heap_growing_percent=50'], '--max-semi-space-size=8'), [
    '--heap_growing_percent=50',
  ]);
  assert.deepEqual(tunedExecArgv([], '--trace-warnings'), [...RUNTIME_NODE_OPTIONS]);
});

test('jemalloc is preloaded from the first place it is installed, glibc tuned where it is not', () => {
  const second = JEMALLOC_PATHS[1] as string;
  assert.deepEqual(
    runtimeEnv((path) => path === second),
    { LD_PRELOAD: second, MALLOC_CONF: JEMALLOC_CONF },
  );
  assert.deepEqual(
    runtimeEnv(() => false),
    { MALLOC_MMAP_THRESHOLD_: '1048576' },
  );
});
