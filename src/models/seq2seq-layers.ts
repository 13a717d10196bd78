// The transformer layers of the two seq2seq families, written once: M2M100/NLLB normalises before
// each sublayer (pre-LN), Marian after the residual sum (post-LN); otherwise the layers are the
// same. Attention takes its keys/values as arguments so the decoder can feed a key/value cache.

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import type { Params } from "./checkpoint.ts";
import { type LinearHook, layerNorm, linear } from "./layers.ts";

export interface LayerStyle {
  preNorm: boolean;
  act: (x: Value) => Value;
  eps: number;
  d: number;
  heads: number;
  ffn: number;
}

/** [batch, seq, d] -> [batch, heads, seq, d / heads]. */
export const splitHeads = (x: Value, heads: number, dh: number) =>
  o.transpose(o.reshape(x, [0, 0, heads, dh]), [0, 2, 1, 3]);

const mergeHeads = (x: Value, d: number) => o.reshape(o.transpose(x, [0, 2, 1, 3]), [0, 0, d]);

/** softmax(q kᵀ + bias) v on split heads; q is already scaled. */
function attend(q: Value, k: Value, v: Value, bias: Value): Value {
  return o.matmul(o.softmax(o.add(o.matmul(q, o.transposeLast2(k)), bias)), v);
}

/** Keys and values of one attention block, split into heads. */
export function keyValues(
  p: Params,
  name: string,
  x: Value,
  s: LayerStyle,
  hook?: LinearHook,
): [Value, Value] {
  const dh = s.d / s.heads;
  return [
    splitHeads(linear(p, `${name}.k_proj`, x, s.d, s.d, hook), s.heads, dh),
    splitHeads(linear(p, `${name}.v_proj`, x, s.d, s.d, hook), s.heads, dh),
  ];
}

function attention(
  p: Params,
  name: string,
  x: Value,
  k: Value,
  v: Value,
  bias: Value,
  s: LayerStyle,
  hook?: LinearHook,
): Value {
  const dh = s.d / s.heads;
  const q = splitHeads(o.mul(linear(p, `${name}.q_proj`, x, s.d, s.d, hook), 1 / Math.sqrt(dh)), s.heads, dh);
  return linear(p, `${name}.out_proj`, mergeHeads(attend(q, k, v, bias), s.d), s.d, s.d, hook);
}

/** x + f(LN(x)) (pre-LN) or LN(x + f(x)) (post-LN). */
function sublayer(p: Params, norm: string, x: Value, s: LayerStyle, f: (h: Value) => Value): Value {
  if (s.preNorm) return o.add(x, f(layerNorm(p, norm, x, s.d, s.eps)));
  return layerNorm(p, norm, o.add(x, f(x)), s.d, s.eps);
}

function feedForward(p: Params, l: string, h: Value, s: LayerStyle, hook?: LinearHook): Value {
  return linear(p, `${l}.fc2`, s.act(linear(p, `${l}.fc1`, h, s.d, s.ffn, hook)), s.ffn, s.d, hook);
}

/** One encoder layer `l` (e.g. "encoder.layers.0"); `bias` [batch, 1, 1, seq] masks padded keys. */
export function encoderLayer(
  p: Params,
  l: string,
  x: Value,
  bias: Value,
  s: LayerStyle,
  hook?: LinearHook,
): Value {
  x = sublayer(p, `${l}.self_attn_layer_norm`, x, s, (h) => {
    const [k, v] = keyValues(p, `${l}.self_attn`, h, s, hook);
    return attention(p, `${l}.self_attn`, h, k, v, bias, s, hook);
  });
  return sublayer(p, `${l}.final_layer_norm`, x, s, (h) => feedForward(p, l, h, s, hook));
}

export interface DecoderLayerInputs {
  /** Cached self-attention keys/values [batch, heads, past, dh] (past may be 0). */
  pastKey: Value;
  pastValue: Value;
  /** Cross-attention keys/values of the encoder output [batch, heads, src, dh]. */
  crossKey: Value;
  crossValue: Value;
  /** [1 or batch, 1, new, past + new]: causal. */
  selfBias: Value;
  /** [batch, 1, 1, src]: source padding. */
  crossBias: Value;
}

/** One decoder layer on the new positions; returns its output and the grown self-attention cache. */
export function decoderLayer(
  p: Params,
  l: string,
  x: Value,
  inp: DecoderLayerInputs,
  s: LayerStyle,
): { x: Value; key: Value; value: Value } {
  let key = inp.pastKey;
  let value = inp.pastValue;
  x = sublayer(p, `${l}.self_attn_layer_norm`, x, s, (h) => {
    const [k, v] = keyValues(p, `${l}.self_attn`, h, s);
    key = o.concat([inp.pastKey, k], 2);
    value = o.concat([inp.pastValue, v], 2);
    return attention(p, `${l}.self_attn`, h, key, value, inp.selfBias, s);
  });
  x = sublayer(p, `${l}.encoder_attn_layer_norm`, x, s, (h) =>
    attention(p, `${l}.encoder_attn`, h, inp.crossKey, inp.crossValue, inp.crossBias, s),
  );
  x = sublayer(p, `${l}.final_layer_norm`, x, s, (h) => feedForward(p, l, h, s));
  return { x, key, value };
}
