#!/usr/bin/env node
import { reexecWithMallocTuning } from '../lib/process/malloc-tuning.ts';

// The commands that keep running get the allocator settings they are measured with.
if (process.argv[2] === 'start' || process.argv[2] === 'writer') reexecWithMallocTuning();

const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
