/**
 * Last-resort cleanup when a test process exits without calling `stop()`
 * (a failed assertion in `before`, an uncaught error): kill the servers the
 * harness spawned and remove their temp dirs. Hooks run newest first, so a
 * process is killed before the directory it writes to is removed. Only
 * synchronous work is possible in an 'exit' handler.
 */
const hooks = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const hook of [...hooks].reverse()) {
    try {
      hook();
    } catch {
      // Best effort: the process is exiting anyway.
    }
  }
  hooks.clear();
}

/** Registers `hook` to run at process exit; returns a function that unregisters it. */
export function onExit(hook: () => void): () => void {
  if (!installed) {
    process.on('exit', runAll);
    installed = true;
  }
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}
