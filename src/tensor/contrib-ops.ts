// ONNX Runtime's fused transformer kernels (domain com.microsoft, CPU and CUDA providers), for
// inference graphs only: they have no gradient rules, and fuse.ts is what puts them into a graph.
// Like ops.ts, each function checks shapes at build time and names the op when they do not fit.

import type { Value } from "./graph.ts";

export const MS_DOMAIN = "com.microsoft";

const fail = (op: string, msg: string): never => {
  throw new Error(`${op}: ${msg}`);
};

export interface AttentionOptions {
  heads: number;
  /** Factor on q kᵀ (the kernel's default is 1/sqrt(head size); always written out here). */
  scale: number;
  /** Added to the scores of padded keys; HF uses the dtype's minimum. */
  maskFilterValue: number;
}

/**
 * MultiHeadAttention: softmax(scale (q + bq)(k + bk)ᵀ + mask) (v + bv) on q, k, v [batch, seq, d]
 * (heads split and merged inside), `bias` [3d] = [bq, bk, bv] or absent, `keyPaddingMask` int32
 * [batch, seq] (1 keep, 0 pad) or absent. Returns [batch, seq, d].
 */
export function multiHeadAttention(
  q: Value,
  k: Value,
  v: Value,
  bias: Value | undefined,
  keyPaddingMask: Value | undefined,
  opts: AttentionOptions,
): Value {
  const op = "MultiHeadAttention";
  for (const t of [q, k, v])
    if (t.rank !== 3 || t.dtype !== "float32") fail(op, `q, k, v must be float32 [batch, seq, d], got ${t}`);
  const d = q.shape[2];
  if (typeof d === "number" && d % opts.heads !== 0)
    fail(op, `d ${d} is not a multiple of ${opts.heads} heads`);
  if (bias && (bias.rank !== 1 || (typeof d === "number" && bias.shape[0] !== 3 * d)))
    fail(op, `bias must be [3 d] = [${typeof d === "number" ? 3 * d : "3d"}], got ${bias}`);
  if (keyPaddingMask && (keyPaddingMask.dtype !== "int32" || keyPaddingMask.rank !== 2))
    fail(op, `key padding mask must be int32 [batch, seq], got ${keyPaddingMask}`);
  const attrs = {
    num_heads: { i: opts.heads },
    scale: { f: opts.scale },
    mask_filter_value: { f: opts.maskFilterValue },
  };
  return q.graph.addNode(
    op,
    [q, k, v, bias, keyPaddingMask],
    [{ dtype: q.dtype, shape: q.shape }],
    attrs,
    MS_DOMAIN,
  )[0];
}
