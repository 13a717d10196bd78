import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  adamwStep,
  createAdamWState,
  restoreAdamWState,
  serializeAdamWState,
  transformersNoDecay,
  type AdamWHyperparams,
} from "../../src/train/adamw.ts";
import { assertClose } from "./close.ts";

// Values are stored as float32, so a hand-computed (float64) value is matched to a few float32 ulps;
// rtol 1e-6 is ~8 ulps (float32 epsilon is 1.19e-7), enough for the handful of roundings per step.
const RTOL = 1e-6;

describe("adamwStep by hand", () => {
  it("matches three hand-computed steps with weight decay and bias correction", () => {
    // lr 0.1, weightDecay 0.1, beta1 0.9, beta2 0.999, eps 1e-8; p0 = [1, -2].
    // Step 1, g = [0.5, -1]:
    //   decay:  p *= 1 - 0.1*0.1 = 0.99                  -> [0.99, -1.98]
    //   m = 0.1 g = [0.05, -0.1];  v = 0.001 g^2 = [0.00025, 0.001]
    //   bc1 = 1 - 0.9 = 0.1;  bc2 = 1 - 0.999 = 0.001
    //   m/bc1 = [0.5, -1];  sqrt(v)/sqrt(bc2) = [0.5, 1]  (the first step is lr * g/|g|)
    //   update = lr * (m/bc1) / (sqrt(v)/sqrt(bc2) + eps) = [0.099999998, -0.099999999]
    //   p1 = [0.99 - 0.099999998, -1.98 + 0.099999999] = [0.890000002, -1.880000001]
    // Step 2, same g:
    //   decay: p = [0.881100002, -1.861200001]
    //   m = 0.9*[0.05, -0.1] + 0.1 g = [0.095, -0.19];  v = 0.999*v + 0.001 g^2 = [0.00049975, 0.001999]
    //   bc1 = 1 - 0.81 = 0.19;  bc2 = 1 - 0.998001 = 0.001999
    //   m/bc1 = [0.5, -1];  sqrt(v/bc2) = [0.5, 1]  (a constant gradient keeps the step at lr)
    //   p2 = [0.881100002 - 0.099999998, -1.861200001 + 0.099999999] = [0.781100004, -1.761200002]
    // Step 3, g = [0, 2]:
    //   decay: p = 0.99 p2 = [0.773289004, -1.743588002]
    //   m = 0.9*[0.095, -0.19] + 0.1*[0, 2] = [0.0855, 0.029]
    //   v = 0.999*[0.00049975, 0.001999] + 0.001*[0, 4] = [0.00049925025, 0.005997001]
    //   bc1 = 1 - 0.729 = 0.271;  bc2 = 1 - 0.997002999 = 0.002997001
    //   m/bc1 = [0.315498155, 0.107011070];  sqrt(v/bc2) = [0.408146148, 1.414567307]
    //   update = 0.1 * [0.315498155/0.408146158, 0.107011070/1.414567317] = [0.077300288, 0.007564933]
    //   p3 = [0.773289004 - 0.077300288, -1.743588002 - 0.007564933] = [0.695988716, -1.751152935]
    const params = { w: new Float32Array([1, -2]) };
    const state = createAdamWState(params);
    const hp: AdamWHyperparams = { weightDecay: 0.1 };

    adamwStep(params, { w: new Float32Array([0.5, -1]) }, state, 0.1, hp);
    assertClose(params.w, [0.890000002, -1.880000001], { rtol: RTOL, what: "p1" });
    assertClose(state.m.w, [0.05, -0.1], { rtol: RTOL, what: "m1" });
    assertClose(state.v.w, [0.00025, 0.001], { rtol: RTOL, what: "v1" });

    adamwStep(params, { w: new Float32Array([0.5, -1]) }, state, 0.1, hp);
    assertClose(params.w, [0.781100004, -1.761200002], { rtol: RTOL, what: "p2" });

    adamwStep(params, { w: new Float32Array([0, 2]) }, state, 0.1, hp);
    assertClose(params.w, [0.695988716, -1.751152935], { rtol: RTOL, what: "p3" });
    assertClose(state.m.w, [0.0855, 0.029], { rtol: RTOL, what: "m3" });
    assertClose(state.v.w, [0.00049925025, 0.005997001], { rtol: RTOL, what: "v3" });
    assert.equal(state.step, 3);
  });

  it("uses torch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01", () => {
    // One step from p = 2 with g = 3 and lr 0.5: p = 2*(1 - 0.5*0.01) - 0.5 * 3/(3 + 1e-8) = 1.49
    const params = { w: new Float32Array([2]) };
    adamwStep(params, { w: new Float32Array([3]) }, createAdamWState(params), 0.5);
    assertClose(params.w, [1.49], { rtol: RTOL });
  });

  it("with lr 0 still advances the moments and the step (transformers' first warmup step)", () => {
    const params = { w: new Float32Array([1, 2]) };
    const state = createAdamWState(params);
    adamwStep(params, { w: new Float32Array([1, -1]) }, state, 0, { weightDecay: 0.5 });
    assert.deepEqual([...params.w], [1, 2]);
    assert.equal(state.step, 1);
    assertClose(state.m.w, [0.1, -0.1], { rtol: RTOL });
  });

  it("skips weight decay for the parameters noDecay names", () => {
    // Zero gradient: Adam's update is 0/(0 + eps) = 0, so only weight decay moves a parameter.
    const params = {
      "layer.dense.weight": new Float32Array([1]),
      "layer.dense.bias": new Float32Array([1]),
      "layer.LayerNorm.weight": new Float32Array([1]),
    };
    const grads = {
      "layer.dense.weight": new Float32Array([0]),
      "layer.dense.bias": new Float32Array([0]),
      "layer.LayerNorm.weight": new Float32Array([0]),
    };
    const state = createAdamWState(params);
    adamwStep(params, grads, state, 0.1, { weightDecay: 0.5, noDecay: transformersNoDecay });
    assertClose(params["layer.dense.weight"], [0.95], { rtol: RTOL });
    assert.equal(params["layer.dense.bias"][0], 1);
    assert.equal(params["layer.LayerNorm.weight"][0], 1);
  });
});

describe("transformersNoDecay", () => {
  it("matches biases and layer-norm weights, not other weights", () => {
    for (const n of ["bias", "a.bias", "e.LayerNorm.weight", "enc.layer_norm.weight", "x.layernorm.weight"]) {
      assert.equal(transformersNoDecay(n), true, n);
    }
    for (const n of ["a.weight", "attention.self.query.weight", "bias_scale.weight", "proj.w1"]) {
      assert.equal(transformersNoDecay(n), false, n);
    }
  });
});

describe("AdamW state snapshot", () => {
  const gradAt = (t: number) => ({
    a: new Float32Array([Math.sin(t), Math.cos(t), 0.5 - t / 10]),
    b: new Float32Array([t % 2 === 0 ? 1 : -2]),
  });
  const hp: AdamWHyperparams = { weightDecay: 0.05 };
  const fresh = () => ({ a: new Float32Array([0.3, -0.7, 1.1]), b: new Float32Array([2]) });

  it("round-trips: restoring mid-run continues bit for bit like an uninterrupted run", () => {
    const straight = fresh();
    const s1 = createAdamWState(straight);
    for (let t = 0; t < 6; t++) adamwStep(straight, gradAt(t), s1, 0.01, hp);

    const resumed = fresh();
    let s2 = createAdamWState(resumed);
    for (let t = 0; t < 3; t++) adamwStep(resumed, gradAt(t), s2, 0.01, hp);
    const snap = serializeAdamWState(s2);
    assert.equal(snap.step, 3);
    assert.deepEqual(Object.keys(snap.tensors).sort(), [
      "exp_avg.a",
      "exp_avg.b",
      "exp_avg_sq.a",
      "exp_avg_sq.b",
    ]);
    s2 = restoreAdamWState(snap, resumed);
    for (let t = 3; t < 6; t++) adamwStep(resumed, gradAt(t), s2, 0.01, hp);

    assert.deepEqual(resumed, straight);
    assert.deepEqual(s2, s1);
  });

  it("copies: later steps do not change a snapshot, nor a snapshot the restored state", () => {
    const params = fresh();
    const state = createAdamWState(params);
    adamwStep(params, gradAt(0), state, 0.01, hp);
    const snap = serializeAdamWState(state);
    const before = snap.tensors["exp_avg.a"].slice();
    adamwStep(params, gradAt(1), state, 0.01, hp);
    assert.deepEqual(snap.tensors["exp_avg.a"], before);
    const restored = restoreAdamWState(snap, params);
    snap.tensors["exp_avg.a"].fill(9);
    assert.deepEqual(restored.m.a, before);
  });

  it("rejects a snapshot that does not fit the parameters", () => {
    const params = fresh();
    const snap = serializeAdamWState(createAdamWState(params));
    assert.throws(
      () => restoreAdamWState(snap, { ...params, c: new Float32Array(1) }),
      /^Error: parameter "c" \(length 1\) has no exp_avg; every parameter needs one$/,
    );
    assert.throws(
      () =>
        restoreAdamWState(
          { ...snap, tensors: { ...snap.tensors, "momentum.a": new Float32Array(3) } },
          params,
        ),
      /unexpected tensor "momentum\.a"/,
    );
    assert.throws(
      () => restoreAdamWState({ ...snap, step: -1 }, params),
      /step must be a non-negative integer/,
    );
  });
});

describe("adamwStep errors", () => {
  const params = () => ({ "enc.w": new Float32Array(4), "enc.b": new Float32Array(2) });

  it("names the parameter and both lengths when a gradient has the wrong length", () => {
    const p = params();
    const state = createAdamWState(p);
    const grads = { "enc.w": new Float32Array(3), "enc.b": new Float32Array(2) };
    assert.throws(
      () => adamwStep(p, grads, state, 0.1),
      (e: Error) =>
        e.message === 'gradient for parameter "enc.w" has length 3 but the parameter has length 4' &&
        !e.message.includes("\n"),
    );
    assert.equal(state.step, 0, "a rejected step changes nothing");
  });

  it("names a gradient without a parameter, and a parameter without a gradient", () => {
    const p = params();
    const state = createAdamWState(p);
    assert.throws(
      () =>
        adamwStep(
          p,
          { "enc.w": new Float32Array(4), "enc.b": new Float32Array(2), x: new Float32Array(1) },
          state,
          0.1,
        ),
      /^Error: gradient "x" has no matching parameter \(parameters: enc\.w, enc\.b\); pass gradients only for the trainable parameters$/,
    );
    assert.throws(
      () => adamwStep(p, { "enc.w": new Float32Array(4) }, state, 0.1),
      /^Error: parameter "enc\.b" \(length 2\) has no gradient; every parameter needs one$/,
    );
  });

  it("rejects hyperparameters torch would reject", () => {
    const p = params();
    const g = { "enc.w": new Float32Array(4), "enc.b": new Float32Array(2) };
    const state = createAdamWState(p);
    assert.throws(() => adamwStep(p, g, state, -1), /lr must be a finite number >= 0, got -1/);
    assert.throws(() => adamwStep(p, g, state, NaN), /lr must be a finite number >= 0, got NaN/);
    assert.throws(() => adamwStep(p, g, state, 0.1, { beta1: 1 }), /beta1 must be in \[0, 1\), got 1/);
    assert.throws(() => adamwStep(p, g, state, 0.1, { beta2: -0.1 }), /beta2 must be in \[0, 1\)/);
    assert.throws(() => adamwStep(p, g, state, 0.1, { eps: -1 }), /eps must be >= 0/);
    assert.throws(() => adamwStep(p, g, state, 0.1, { weightDecay: -1 }), /weightDecay must be >= 0/);
    // An explicit undefined means "default", as an unset optional flag would pass it.
    adamwStep(p, g, state, 0.1, { beta1: undefined, eps: undefined });
    assert.equal(state.step, 1);
  });
});
