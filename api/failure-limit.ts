import { createAddressBuckets } from '../lib/address-buckets.ts';

/**
 * Failed authentications per source address: each failure spends a token of
 * that address's bucket (`perMinute` a minute, bursts up to the same); an
 * address with none left is answered 429 before any credential is checked,
 * so guessing tokens or passwords — each password check an scrypt — cannot
 * be done at speed, and does not slow anyone else down.
 */
export function createFailureLimiter(options: { perMinute: number; now?: () => number }) {
  const buckets = createAddressBuckets({
    rate: options.perMinute / 60,
    burst: options.perMinute,
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    fail(address: string): void {
      buckets.take(address);
    },
    blocked: (address: string) => buckets.waitMs(address) > 0,
    retryAfterSeconds: (address: string) => Math.max(1, Math.ceil(buckets.waitMs(address) / 1000)),
  };
}

export type FailureLimiter = ReturnType<typeof createFailureLimiter>;
