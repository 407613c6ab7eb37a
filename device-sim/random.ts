/**
 * Seeded randomness for the simulator. Everything the simulator produces is a
 * function of a seed, so a failing test or benchmark can be replayed exactly.
 *
 * Two flavours:
 * - `createRng(seed)`: a sequential stream (mulberry32) for building fleets and
 *   for per-message decisions in the runner.
 * - `hash01(seed, a, b)`: a stateless hash to [0, 1), used by the value models
 *   so a reading for any instant can be computed without replaying history.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  /** Uniform float in [min, max). */
  float(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** `length` decimal digits (leading zeros allowed). */
  digits(length: number): string;
  /** `length` lowercase hex characters. */
  hex(length: number): string;
  /** A new independent stream derived from this one and a label. */
  fork(label: string): Rng;
}

const HEX = '0123456789abcdef';

export function createRng(seed: number | string): Rng {
  let state = typeof seed === 'number' ? seed >>> 0 : hashString(seed);

  // mulberry32 (Tommy Ettinger): 32-bit state, full period 2^32, passes gjrand's basic tests.
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));

  return {
    next,
    int,
    float: (min, max) => min + next() * (max - min),
    chance: (p) => next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[int(0, items.length - 1)] as T;
    },
    digits(length) {
      let out = '';
      for (let i = 0; i < length; i++) out += String(int(0, 9));
      return out;
    },
    hex(length) {
      let out = '';
      for (let i = 0; i < length; i++) out += HEX[int(0, 15)];
      return out;
    },
    fork(label) {
      return createRng((hashString(label) ^ Math.floor(next() * 4294967296)) >>> 0);
    },
  };
}

/** FNV-1a, 32-bit: turns labels and logins into seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Stateless hash of (seed, a, b) to [0, 1). `a` and `b` are truncated to 32-bit integers. */
export function hash01(seed: number, a: number, b = 0): number {
  let h = (seed ^ Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca77)) >>> 0;
  // murmur3 finaliser
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Smooth value noise in [-1, 1]: random values at integer points of `x`,
 * joined by a smoothstep. Summing octaves of it gives a bounded wander that is
 * still a pure function of `x`, which is what a "bounded random walk" needs
 * when readings must be computable for any time.
 */
export function valueNoise(seed: number, x: number): number {
  const i = Math.floor(x);
  const f = x - i;
  const a = hash01(seed, i) * 2 - 1;
  const b = hash01(seed, i + 1) * 2 - 1;
  const s = f * f * (3 - 2 * f);
  return a + (b - a) * s;
}

/** Octaves of `valueNoise`, normalised back to [-1, 1]. */
export function wander(seed: number, x: number, octaves = 3): number {
  let sum = 0;
  let amp = 1;
  let norm = 0;
  for (let o = 0; o < octaves; o++) {
    sum += amp * valueNoise(seed + o * 0x3c6ef372, x * 2 ** o);
    norm += amp;
    amp /= 2;
  }
  return sum / norm;
}
