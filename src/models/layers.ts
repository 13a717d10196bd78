// Building blocks shared by the encoders: a PyTorch-layout linear layer, LayerNorm with its
// checkpoint weights, and multi-head self-attention with an additive padding bias.

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import type { Params } from "./checkpoint.ts";

/** Optional hook on a linear layer's output (LoRA adds its low-rank term here). */
export type LinearHook = (name: string, x: Value, y: Value) => Value;

/** y = x Wᵀ + b with W stored [out, in] as PyTorch does (ONNX Runtime folds the transpose of a frozen W). */
export function linear(
  p: Params,
  name: string,
  x: Value,
  dIn: number,
  dOut: number,
  hook?: LinearHook,
): Value {
  const w = p(`${name}.weight`, [dOut, dIn]);
  const y = o.add(o.matmul(x, o.transpose(w, [1, 0])), p(`${name}.bias`, [dOut]));
  return hook ? hook(name, x, y) : y;
}

export function layerNorm(p: Params, name: string, x: Value, d: number, eps: number): Value {
  return o.layerNorm(x, p(`${name}.weight`, [d]), p(`${name}.bias`, [d]), eps);
}

export interface AttentionNames {
  q: string;
  k: string;
  v: string;
  out: string;
}

/** Multi-head self-attention on x [batch, seq, d]; `bias` [batch, 1, 1, seq] masks padded keys. */
export function selfAttention(
  p: Params,
  names: AttentionNames,
  x: Value,
  bias: Value,
  d: number,
  heads: number,
  hook?: LinearHook,
): Value {
  const dh = d / heads;
  const split = (t: Value) => o.transpose(o.reshape(t, [0, 0, heads, dh]), [0, 2, 1, 3]);
  // scaling q (not the scores) is how both BERT and M2M100 do it; the result is the same
  const q = split(o.mul(linear(p, names.q, x, d, d, hook), 1 / Math.sqrt(dh)));
  const k = split(linear(p, names.k, x, d, d, hook));
  const v = split(linear(p, names.v, x, d, d, hook));
  const probs = o.softmax(o.add(o.matmul(q, o.transposeLast2(k)), bias));
  const ctx = o.reshape(o.transpose(o.matmul(probs, v), [0, 2, 1, 3]), [0, 0, d]);
  return linear(p, names.out, ctx, d, d, hook);
}

/** Position ids 0..seq-1 for every row, as int64 [batch, seq] (BERT ignores the mask here). */
export function sequentialPositions(like: Value): Value {
  const ones = o.constantOfShape(o.shapeOf(like), 1, "int64", like.shape);
  return o.sub(o.cumSum(ones, 1), 1);
}

/** XLM-R / M2M100 position ids: pad + cumsum(id != pad) for real tokens, pad for padding. */
export function paddedPositions(ids: Value, pad: number): Value {
  const real = o.cast(o.not(o.equal(ids, ids.graph.scalar(pad, "int64"))), "int64");
  return o.add(o.mul(o.cumSum(real, 1), real), pad);
}
