/**
 * Calibrated noise for anonymised aggregates (docs/retention.md, "Noise").
 * A group's release is ε-differentially private for the values of any one
 * device: replacing one device's readings by any others changes each clamped
 * sum by at most the field's bound width (retention/contribution-bounds.ts),
 * so Laplace noise of scale width × fields / ε on each sum, ε split evenly
 * over the kind's numeric fields, gives ε for the whole group (sequential
 * composition). Means are the noisy sums over the device count, which is
 * published exactly: who is in a group is not what the noise hides.
 */
import { getRandomValues } from 'node:crypto';
import type { Bound } from './contribution-bounds.ts';

/** Uniform in [0, 1). The product uses cryptoUniform; tests inject a seeded one. */
export type UniformSource = () => number;

/** 53 bits from the operating system's CSPRNG: a guess at the draw is no better than chance. */
export const cryptoUniform: UniformSource = () => {
  const [a = 0, b = 0] = getRandomValues(new Uint32Array(2));
  return ((a >>> 5) * 67_108_864 + (b >>> 6)) / 9_007_199_254_740_992;
};

/** One draw from Laplace(0, scale): the difference of two exponential draws. */
export function laplace(scale: number, uniform: UniformSource): number {
  // 1 − u is in (0, 1]: its logarithm is finite.
  const exp = () => -Math.log(1 - uniform());
  return scale * (exp() - exp());
}

/** The Laplace scale of one field's sum: bound width × number of fields / ε. */
export function sumScale(bound: Bound, fields: number, epsilon: number): number {
  return ((bound.hi - bound.lo) * fields) / epsilon;
}
