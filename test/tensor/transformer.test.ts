// The composite check the engine must pass before models are built on it: a 2-layer transformer
// (post-LayerNorm as BERT, multi-head attention with a padding mask, erf GELU FFN) with masked mean
// pooling, every weight a float64 graph input, gradients against central differences.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Graph, TensorData, Value } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";
import { f64, gradCheck, randn, rng } from "./gradcheck.ts";

const D = 8;
const HEADS = 2;
const FFN = 12;
const B = 2;
const T = 4;

function attention(g: Graph, x: Value, bias: Value, w: Record<string, Value>, l: number): Value {
  const dh = D / HEADS;
  const heads = (t: Value) => o.transpose(o.reshape(t, [0, 0, HEADS, dh]), [0, 2, 1, 3]);
  const proj = (n: string) => o.add(o.matmul(x, w[`l${l}.${n}.w`]), w[`l${l}.${n}.b`]);
  const q = heads(proj("q"));
  const k = heads(proj("k"));
  const v = heads(proj("v"));
  const scores = o.add(o.mul(o.matmul(q, o.transposeLast2(k)), 1 / Math.sqrt(dh)), bias);
  const ctx = o.reshape(o.transpose(o.matmul(o.softmax(scores), v), [0, 2, 1, 3]), [0, 0, D]);
  void g;
  return o.add(o.matmul(ctx, w[`l${l}.o.w`]), w[`l${l}.o.b`]);
}

function encoder(g: Graph, w: Record<string, Value>): Value {
  const mask = w.mask;
  const bias = o.attentionBias(mask, "float64");
  let x = w.x;
  for (let l = 0; l < 2; l++) {
    x = o.layerNorm(o.add(x, attention(g, x, bias, w, l)), w[`l${l}.ln1.s`], w[`l${l}.ln1.b`], 1e-12);
    const h = o.gelu(o.add(o.matmul(x, w[`l${l}.up.w`]), w[`l${l}.up.b`]));
    const ffn = o.add(o.matmul(h, w[`l${l}.down.w`]), w[`l${l}.down.b`]);
    x = o.layerNorm(o.add(x, ffn), w[`l${l}.ln2.s`], w[`l${l}.ln2.b`], 1e-12);
  }
  return o.maskedMean(x, mask);
}

test("2-layer transformer with padding mask, GELU, LayerNorm and mean pooling: gradients match finite differences", async () => {
  const rand = rng(3);
  const p = (dims: number[], scale = 0.5) =>
    f64(
      dims,
      randn(
        rand,
        dims.reduce((a, b) => a * b, 1),
        scale,
      ),
    );
  const feeds: Record<string, TensorData> = {
    x: p([B, T, D], 1),
    // second row has two padding positions: their values must get no gradient through attention
    mask: f64([B, T], [1, 1, 1, 1, 1, 1, 0, 0]),
  };
  for (let l = 0; l < 2; l++) {
    for (const n of ["q", "k", "v", "o"]) {
      feeds[`l${l}.${n}.w`] = p([D, D]);
      feeds[`l${l}.${n}.b`] = p([D], 0.1);
    }
    feeds[`l${l}.up.w`] = p([D, FFN]);
    feeds[`l${l}.up.b`] = p([FFN], 0.1);
    feeds[`l${l}.down.w`] = p([FFN, D]);
    feeds[`l${l}.down.b`] = p([D], 0.1);
    for (const n of ["ln1", "ln2"]) {
      feeds[`l${l}.${n}.s`] = f64(
        [D],
        randn(rand, D, 0.2).map((v) => 1 + v),
      );
      feeds[`l${l}.${n}.b`] = p([D], 0.1);
    }
  }
  const wrt = Object.keys(feeds).filter((k) => k !== "mask");
  const shapes = { x: ["batch", "seq", D], mask: ["batch", "seq"] };
  const { relErr, analytic } = await gradCheck(feeds, (g, w) => encoder(g, w), { wrt, shapes });
  for (const [w, e] of Object.entries(relErr)) {
    // softmax ignores a constant added to every key score of a query, so the key bias has a zero
    // gradient in exact arithmetic: check it is zero rather than a ratio of rounding noise
    if (/\.k\.b$/.test(w))
      assert.ok(
        analytic[w].every((v) => Math.abs(v) < 1e-12),
        `d/d${w} should be 0`,
      );
    else assert.ok(e < 1e-4, `d/d${w}: relative error ${e}`);
  }
  // padded positions of row 2 influence nothing: their input gradient is exactly zero
  const dx = analytic.x;
  for (const t of [2, 3]) for (let d = 0; d < D; d++) assert.equal(dx[(1 * T + t) * D + d], 0);
  assert.ok(dx.slice(0, T * D).some((v) => v !== 0));
});
