// What happens to gradients between the backward pass and the optimizer step: global-norm clipping
// (torch.nn.utils.clip_grad_norm_) and accumulation over micro-batches.

import { assertSameLayout, zerosLike, type NamedArrays } from "./params.ts";

/** L2 norm over all gradients together, as if they were one concatenated vector. */
export function globalGradNorm(grads: NamedArrays): number {
  // Sum of squares in float64: a float32 sum over millions of elements would lose digits.
  let sumSq = 0;
  for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) sumSq += g[i] * g[i];
  return Math.sqrt(sumSq);
}

/**
 * clip_grad_norm_(max_norm, norm_type=2): scales every gradient in place by
 * clip_coef = maxNorm / (totalNorm + 1e-6) when that is below 1, and returns the total norm measured
 * before clipping (what training logs report as grad_norm). Like torch's default
 * (error_if_nonfinite=False), a NaN/inf norm is returned and the gradients are then NaN; pass
 * `errorIfNonfinite` to stop instead.
 */
export function clipGradNorm(
  grads: NamedArrays,
  maxNorm: number,
  options: { errorIfNonfinite?: boolean } = {},
): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm maxNorm must be a number > 0, got ${maxNorm}`);
  const totalNorm = globalGradNorm(grads);
  if (options.errorIfNonfinite && !Number.isFinite(totalNorm)) {
    throw new Error(`gradient norm is ${totalNorm}, so it cannot be clipped; check the loss for NaN/inf`);
  }
  // The 1e-6 keeps the coefficient finite at a zero norm and makes the clipped norm just under max.
  const clipCoef = maxNorm / (totalNorm + 1e-6);
  // A NaN coefficient fails `< 1`, but torch multiplies by clamp(NaN) = NaN; do the same.
  if (clipCoef < 1 || Number.isNaN(clipCoef)) {
    for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) g[i] *= clipCoef;
  }
  return totalNorm;
}

/**
 * Sums micro-batch gradients until an optimizer step. The average of micro-batch gradients equals
 * the full-batch gradient when the loss is a per-example mean and the micro-batches are the same
 * size, which is why `averagedGrads` divides by the number of micro-batches.
 */
export interface GradAccumulator {
  sum: NamedArrays;
  /** Micro-batches added since the last reset. */
  count: number;
}

/** An empty accumulator with one zero buffer per parameter. */
export function createGradAccumulator(params: NamedArrays): GradAccumulator {
  return { sum: zerosLike(params), count: 0 };
}

/** Adds one micro-batch's gradients (same names and lengths as the parameters) into the sum. */
export function accumulateGrads(acc: GradAccumulator, grads: NamedArrays): void {
  assertSameLayout(acc.sum, grads, "gradient");
  for (const [name, g] of Object.entries(grads)) {
    const s = acc.sum[name];
    for (let i = 0; i < g.length; i++) s[i] += g[i];
  }
  acc.count += 1;
}

/** The mean over the accumulated micro-batches, as fresh arrays (the accumulator is not changed). */
export function averagedGrads(acc: GradAccumulator): NamedArrays {
  if (acc.count === 0) throw new Error("no gradients accumulated yet; call accumulateGrads before averaging");
  const out: NamedArrays = {};
  for (const [name, s] of Object.entries(acc.sum)) {
    const a = new Float32Array(s.length);
    for (let i = 0; i < s.length; i++) a[i] = s[i] / acc.count;
    out[name] = a;
  }
  return out;
}

/** Zeroes the sums and the count, ready for the next optimizer step (torch's zero_grad). */
export function resetGradAccumulator(acc: GradAccumulator): void {
  for (const s of Object.values(acc.sum)) s.fill(0);
  acc.count = 0;
}
