#!/usr/bin/env node
import { reexecTuned } from '../lib/process/runtime-tuning.ts';

// The commands that keep running get the runtime settings they are measured with.
if (process.argv[2] === 'start' || process.argv[2] === 'writer') reexecTuned();

const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
