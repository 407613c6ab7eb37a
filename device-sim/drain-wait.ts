/**
 * Waiting for a load's outstanding PUBACKs, with a deadline: `done` resolves
 * once `drained` is called (the last acknowledgement came) or after
 * `timeoutMs`, whichever is first.
 */
export function drainWait(timeoutMs: number): { done: Promise<void>; drained: () => void } {
  let drained: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, timeoutMs);
    drained = () => {
      clearTimeout(deadline);
      resolve();
    };
  });
  return { done, drained };
}
