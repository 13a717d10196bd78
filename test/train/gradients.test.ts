import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  accumulateGrads,
  averagedGrads,
  clipGradNorm,
  createGradAccumulator,
  globalGradNorm,
  resetGradAccumulator,
} from "../../src/train/gradients.ts";
import { assertClose } from "./close.ts";

// Gradients are float32; rtol 1e-6 allows a few ulps for the one rounding of each scaled value.
const RTOL = 1e-6;

describe("globalGradNorm", () => {
  it("is the L2 norm of all gradients concatenated", () => {
    // sqrt(3^2 + 4^2 + 12^2) = sqrt(169) = 13
    assert.equal(globalGradNorm({ a: new Float32Array([3, 4]), b: new Float32Array([12]) }), 13);
    assert.equal(globalGradNorm({}), 0);
  });
});

describe("clipGradNorm (clip_grad_norm_)", () => {
  it("scales by max/(norm + 1e-6) when the norm is above max, and returns the norm before clipping", () => {
    const grads = { a: new Float32Array([3, 4]), b: new Float32Array([12]) };
    const norm = clipGradNorm(grads, 1);
    assert.equal(norm, 13);
    // clip_coef = 1 / (13 + 1e-6) = 0.0769230710...
    const c = 1 / (13 + 1e-6);
    assertClose(grads.a, [3 * c, 4 * c], { rtol: RTOL });
    assertClose(grads.b, [12 * c], { rtol: RTOL });
    // The clipped norm is just below max_norm (the 1e-6 keeps it under).
    assert.ok(globalGradNorm(grads) < 1 && globalGradNorm(grads) > 1 - 1e-6);
  });

  it("leaves gradients untouched when the norm is below max", () => {
    const grads = { a: new Float32Array([0.3, 0.4]) };
    const norm = clipGradNorm(grads, 1);
    assertClose([norm], [0.5], { rtol: RTOL });
    assert.deepEqual([...grads.a], [Math.fround(0.3), Math.fround(0.4)]);
  });

  it("at exactly max still scales, by max/(max + 1e-6), as torch does", () => {
    // The test is on the coefficient (clip_coef < 1), not on norm > max, so a norm equal to max is
    // scaled by 1/(1 + 1e-6): a ~10-ulp change that shows the same side of the boundary as torch.
    const grads = { a: new Float32Array([0.6, 0.8]) };
    const norm = clipGradNorm(grads, 1);
    const c = 1 / (norm + 1e-6);
    assert.ok(c < 1);
    assert.deepEqual([...grads.a], [Math.fround(Math.fround(0.6) * c), Math.fround(Math.fround(0.8) * c)]);
    assert.notEqual(grads.a[0], Math.fround(0.6));
  });

  it("zero gradients stay zero (the 1e-6 avoids 0/0)", () => {
    const grads = { a: new Float32Array(3) };
    assert.equal(clipGradNorm(grads, 1), 0);
    assert.deepEqual([...grads.a], [0, 0, 0]);
  });

  it("non-finite norms: returned like torch by default, an error when asked", () => {
    const grads = { a: new Float32Array([NaN, 1]) };
    assert.ok(Number.isNaN(clipGradNorm(grads, 1)));
    assert.throws(
      () => clipGradNorm({ a: new Float32Array([Infinity]) }, 1, { errorIfNonfinite: true }),
      /^Error: gradient norm is Infinity, so it cannot be clipped; check the loss for NaN\/inf$/,
    );
    assert.throws(() => clipGradNorm({ a: new Float32Array(1) }, 0), /maxNorm must be a number > 0, got 0/);
  });
});

describe("gradient accumulation", () => {
  const params = { w: new Float32Array(2), b: new Float32Array(1) };

  it("averages the summed micro-batch gradients over their number", () => {
    const acc = createGradAccumulator(params);
    accumulateGrads(acc, { w: new Float32Array([1, 2]), b: new Float32Array([3]) });
    accumulateGrads(acc, { w: new Float32Array([3, -2]), b: new Float32Array([0]) });
    accumulateGrads(acc, { w: new Float32Array([2, 3]), b: new Float32Array([-6]) });
    assert.equal(acc.count, 3);
    const mean = averagedGrads(acc);
    // w: (1 + 3 + 2)/3 = 2, (2 - 2 + 3)/3 = 1;  b: (3 + 0 - 6)/3 = -1
    assert.deepEqual([...mean.w], [2, 1]);
    assert.deepEqual([...mean.b], [-1]);
    // Fresh arrays: clipping the average in place does not touch the running sum.
    mean.w.fill(0);
    assert.deepEqual([...acc.sum.w], [6, 3]);
  });

  it("reset starts the next optimizer step from zero", () => {
    const acc = createGradAccumulator(params);
    accumulateGrads(acc, { w: new Float32Array([5, 5]), b: new Float32Array([5]) });
    resetGradAccumulator(acc);
    assert.equal(acc.count, 0);
    accumulateGrads(acc, { w: new Float32Array([1, -1]), b: new Float32Array([2]) });
    assert.deepEqual([...averagedGrads(acc).w], [1, -1]);
    assert.deepEqual([...averagedGrads(acc).b], [2]);
  });

  it("one-line errors for an empty accumulator and a mismatched gradient", () => {
    const acc = createGradAccumulator(params);
    assert.throws(() => averagedGrads(acc), /^Error: no gradients accumulated yet/);
    assert.throws(
      () => accumulateGrads(acc, { w: new Float32Array(3), b: new Float32Array(1) }),
      /^Error: gradient for parameter "w" has length 3 but the parameter has length 2$/,
    );
    assert.equal(acc.count, 0, "a rejected micro-batch is not counted");
  });
});
