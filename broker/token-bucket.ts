/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. Time comes
 * from the injected clock so tests need not wait.
 */
export function createTokenBucket(rate: number, burst: number, now: () => number = Date.now) {
  let tokens = burst;
  let last = now();

  function refill(): void {
    const t = now();
    tokens = Math.min(burst, tokens + ((t - last) / 1000) * rate);
    last = t;
  }

  return {
    /** Takes a token if one is there. */
    tryTake(): boolean {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    /** Milliseconds until a token will be there (0 if one is there now). */
    waitMs(): number {
      refill();
      return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / rate) * 1000);
    },
  };
}

export type TokenBucket = ReturnType<typeof createTokenBucket>;
