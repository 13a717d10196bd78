// Cross-check of the whole optimizer path against PyTorch. The expected numbers below were printed by
// torch.optim.AdamW + torch.optim.lr_scheduler.LambdaLR + torch.nn.utils.clip_grad_norm_ in PyTorch
// 1.13.1 (Debian python3-torch 1.13.1+dfsg-4; torch.__version__ reports "1.13.0a0"), CPU, float32,
// with exactly these settings:
//   params      dense.weight (2x3) = [0.5, -0.3, 0.8, -1.2, 0.05, 0.0], dense.bias = [0.1, -0.2, 0.0]
//   AdamW       lr 0.05, betas (0.9, 0.999), eps 1e-8; two param groups: weight_decay 0.1 for the
//               weight, 0.0 for the bias
//   LambdaLR    transformers' get_linear_schedule_with_warmup lambda, warmup 2, total 6; the lr
//               read from param_groups before opt.step(), then sched.step() after it
//   gradients   each step k = 0..4: p.grad = (micro-batch 0 + micro-batch 1) / 2, with micro-batch j
//               of a tensor = float32(((i*7 + off + k*3 + j*5) % 11 - 5) / 4 * scale[k]) for
//               i = 0..n-1 (off 0 for the weight, 6 for the bias), scale = [2, 0.1, 1.5, 0.05, 0.8];
//               then clip_grad_norm_([weight, bias], max_norm=1.0) (norms above and below 1 occur)
// Values were printed with "%.9g", enough digits to identify a float32 exactly.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { adamwStep, createAdamWState, transformersNoDecay } from "../../src/train/adamw.ts";
import {
  accumulateGrads,
  averagedGrads,
  clipGradNorm,
  createGradAccumulator,
  resetGradAccumulator,
} from "../../src/train/gradients.ts";
import { linearWithWarmup } from "../../src/train/schedule.ts";
import { assertClose } from "./close.ts";

const expected = [
  {
    lr: 0.0,
    norm: 2.2912879,
    weight: [0.5, -0.300000012, 0.800000012, -1.20000005, 0.0500000007, 0],
    bias: [0.100000001, -0.200000003, 0],
  },
  {
    lr: 0.025,
    norm: 0.125623435,
    weight: [0.515070677, -0.287078977, 0.790526092, -1.21321177, 0.0655345842, 0.00528348703],
    bias: [0.11565958, -0.194716513, -0.0133569371],
  },
  {
    lr: 0.05,
    norm: 1.60200083,
    weight: [0.552446961, -0.254162282, 0.752877593, -1.24773347, 0.104088627, 0.0134253707],
    bias: [0.154541284, -0.186548218, -0.0513888448],
  },
  {
    lr: 0.037500000000000006,
    norm: 0.0655505508,
    weight: [0.5745368, -0.236693889, 0.730955958, -1.26798964, 0.126842931, 0.0235075895],
    bias: [0.177685916, -0.176415652, -0.0740868673],
  },
  {
    lr: 0.025,
    norm: 0.83066237,
    weight: [0.590920269, -0.226796031, 0.711780488, -1.26869512, 0.143393844, 0.0196241084],
    bias: [0.194553941, -0.180240363, -0.0927598253],
  },
];
const expectedState = {
  step: 5,
  weight: {
    m: [-0.10167823, -0.0173400939, 0.0507867895, 0.0251249187, -0.0735655203, 0.00458511664],
    v: [0.000605481619, 6.45681503e-5, 0.000159385832, 0.000781651703, 0.00035373072, 2.67273354e-5],
  },
  bias: {
    m: [-0.0735655203, 0.00458511664, 0.0788995028],
    v: [0.00035373072, 2.67273354e-5, 0.000332027994],
  },
};

// Tolerance: both sides store float32 and do the same operations, but torch rounds to float32 after
// every op (p*decay, m update, sqrt, division, ...) while adamwStep rounds once per stored value, so
// each step may differ by a few ulps, compounding mildly over 5 steps. rtol 1e-6 is ~8 float32 ulps:
// tight enough that any formula slip (eps placement, decay order, bias correction, a schedule off by
// one step, clipping on the wrong side) fails by orders of magnitude. atol 1e-9 covers exact zeros.
const TOL = { rtol: 1e-6, atol: 1e-9 };
const SCALE = [2, 0.1, 1.5, 0.05, 0.8];

function microBatch(k: number, j: number, n: number, off: number): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => ((((i * 7 + off + k * 3 + j * 5) % 11) - 5) / 4) * SCALE[k],
  );
}

describe("AdamW + linear warmup/decay + clipping + accumulation vs torch", () => {
  it("reproduces 5 steps of torch.optim.AdamW with LambdaLR and clip_grad_norm_", () => {
    const params = {
      "dense.weight": new Float32Array([0.5, -0.3, 0.8, -1.2, 0.05, 0.0]),
      "dense.bias": new Float32Array([0.1, -0.2, 0.0]),
    };
    const baseLr = 0.05;
    const schedule = linearWithWarmup(2, 6);
    const state = createAdamWState(params);
    const acc = createGradAccumulator(params);

    for (let k = 0; k < expected.length; k++) {
      const want = expected[k];
      resetGradAccumulator(acc);
      for (const j of [0, 1]) {
        accumulateGrads(acc, {
          "dense.weight": microBatch(k, j, 6, 0),
          "dense.bias": microBatch(k, j, 3, 6),
        });
      }
      const grads = averagedGrads(acc);
      const norm = clipGradNorm(grads, 1.0);
      const lr = baseLr * schedule(state.step);
      adamwStep(params, grads, state, lr, { weightDecay: 0.1, noDecay: transformersNoDecay });

      assertClose([lr], [want.lr], { rtol: 1e-12, what: `lr at step ${k}` });
      assertClose([norm], [want.norm], { ...TOL, what: `grad norm at step ${k}` });
      assertClose(params["dense.weight"], want.weight, { ...TOL, what: `weight after step ${k}` });
      assertClose(params["dense.bias"], want.bias, { ...TOL, what: `bias after step ${k}` });
    }

    assert.equal(state.step, expectedState.step);
    assertClose(state.m["dense.weight"], expectedState.weight.m, { ...TOL, what: "exp_avg weight" });
    assertClose(state.v["dense.weight"], expectedState.weight.v, { ...TOL, what: "exp_avg_sq weight" });
    assertClose(state.m["dense.bias"], expectedState.bias.m, { ...TOL, what: "exp_avg bias" });
    assertClose(state.v["dense.bias"], expectedState.bias.v, { ...TOL, what: "exp_avg_sq bias" });
  });
});
