import { createTokenBucket, type TokenBucket } from '../broker/token-bucket.ts';

/**
 * One token bucket per source address, at most `maxAddresses` of them: the
 * least recently seen address is forgotten first, so a flood from many
 * addresses costs bounded memory (and at worst forgives an old offender).
 */
export function createAddressBuckets(options: {
  rate: number;
  burst: number;
  maxAddresses?: number;
  now?: () => number;
}) {
  const max = options.maxAddresses ?? 10_000;
  const buckets = new Map<string, TokenBucket>();

  function bucket(address: string): TokenBucket {
    let b = buckets.get(address);
    if (b) buckets.delete(address);
    else b = createTokenBucket(options.rate, options.burst, options.now);
    buckets.set(address, b);
    if (buckets.size > max) buckets.delete(buckets.keys().next().value as string);
    return b;
  }

  return {
    /** Spends one of the address's tokens; false when it has none left. */
    take: (address: string) => bucket(address).tryTake(),
    /** Milliseconds until the address has a token again (0 if it has one). */
    waitMs: (address: string) => buckets.get(address)?.waitMs() ?? 0,
    get size() {
      return buckets.size;
    },
  };
}

export type AddressBuckets = ReturnType<typeof createAddressBuckets>;
