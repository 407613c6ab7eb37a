import { startStack } from '../harness/stack.ts';
import { defineLeakTests } from './leak-suite.ts';

defineLeakTests(() => startStack());
