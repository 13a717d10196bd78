// Inference-only fusion: rewrites the self-attention that models/layers.ts and
// models/seq2seq-layers.ts build from standard ops,
//   split heads (Reshape, Transpose), softmax(q kᵀ + unsqueeze((1 - mask) min)) v, merge heads,
// into ONNX Runtime's MultiHeadAttention kernel (contrib-ops.ts) on the projections' outputs, with
// the q/k/v projection biases folded into the kernel when all three are constants, q's scaling
// as the kernel's scale, and mask_filter_value = the graph's min, so padded keys get exactly what HF
// gives them. Never for training graphs: the kernel has no gradient rule, and a training graph
// reuses the intermediates (softmax probabilities) that the fusion removes — which is also why a
// match requires every intermediate to have no other reader: a rewrite never changes what the
// graph computes. The projections stay MatMuls, so quantize.ts still makes them int8 GEMMs.
//
// Measured as CPU time per run, fused against unfused graphs alternating in one process
// (onnxruntime-node 1.30 CPU provider, Intel Xeon with AVX-512 VNNI/BF16 and AMX, 1 x 32 tokens,
// 1 thread, a shared 2-core machine under load, so +-3% is noise): e5-small -2%, e5-base +1%,
// NLLB-600M encoder +2%, int8 e5-small/NLLB -1%/+3%; e5-small 32 x 128 on 2 threads -3% (min).
// The graph loses a third of its nodes (e5-small: 522 -> 327 before ONNX Runtime's own fusions)
// and is exact (fp32 outputs within 1e-7; scale 1/8 for 64-dim heads gives identical bits).
// Float32 encoders spend ~80% of a run in MatMul (MLAS SGEMM, ~140 GFLOP/s a core here), which no
// fusion shortens.
//
// Tried and left out:
//   - SkipLayerNormalization (residual Add + bias + LayerNorm in one kernel): the CPU kernel is ~4.5x
//     slower than LayerNormalization plus two Adds (58 vs 12 µs at 32 x 384); whole model +4-6%.
//   - Gemm with the bias (rows flattened) instead of MatMul + Add: 1-2%, within noise.
//   - EmbedLayerNormalization: its mask output and position ids assume BERT's right padding and
//     0..seq-1 positions (XLM-R and M2M100 differ), for a few element-wise passes once per run.
//   - the Attention op: wants constant packed Q/K/V weights, so int8 graphs would lose their int8
//     projections (MultiHeadAttention takes the projections' outputs instead).
// ONNX Runtime itself (level "all") already fuses bias + exact erf GELU into BiasGelu and int8
// MatMulInteger chains into DynamicQuantizeMatMul; FastGelu (tanh) is not exact and is not used.

import { MS_DOMAIN, multiHeadAttention } from "./contrib-ops.ts";
import type { Graph, Node, Value } from "./graph.ts";
import { numel } from "./shape.ts";
import * as o from "./ops.ts";

/** An additive mask value at or below this is taken as HF's "minus infinity" (finfo.min). */
const MASK_MIN = -1e30;

/** Producers and readers of each value, for pattern matching. */
class Index {
  readonly producer = new Map<string, Node>();
  private readonly readers = new Map<string, Node[]>();
  constructor(
    readonly g: Graph,
    nodes: Node[],
  ) {
    for (const n of nodes) {
      for (const out of n.outputs) this.producer.set(out, n);
      for (const i of n.inputs) if (i) this.readers.set(i, [...(this.readers.get(i) ?? []), n]);
    }
  }
  private readOnce(name: string): boolean {
    return this.readers.get(name)?.length === 1 && !this.g.outputs.some((out) => out.name === name);
  }
  /** The standard `op` node making `name`, when `name` is read by one node only (the pattern). */
  only(name: string, op: string): Node | undefined {
    const n = this.producer.get(name);
    return n?.op === op && !n.domain && this.readOnce(name) ? n : undefined;
  }
  /** The standard `op` node reading `name`, when it is its only reader. */
  reader(name: string, op: string): Node | undefined {
    const n = this.readers.get(name)?.[0];
    return n?.op === op && !n.domain && this.readOnce(name) ? n : undefined;
  }
  /** Values of a small constant initializer, else undefined. */
  constant(name: string): number[] | undefined {
    const t = this.g.initializers.get(name);
    return t && numel(t.dims)! <= 16 ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
  }
  perm(node: Node): string | undefined {
    const a = node.attrs.perm;
    return a && "ints" in a ? a.ints.join() : undefined;
  }
  dims(name: string) {
    return this.g.info.get(name)!.shape;
  }
}

interface AttentionMatch {
  /** The Reshape that merges the heads: the fused node takes over its output. */
  last: Node;
  q: string;
  k: string;
  v: string;
  bias?: [string, string, string];
  mask: string;
  heads: number;
  scale: number;
  maskFilterValue: number;
}

/** `x + b` with b a constant [d] and x [batch, seq, d], the Add read once: [x, b]. */
function biasAdd(ix: Index, name: string): [string, string] | undefined {
  const add = ix.only(name, "Add");
  if (!add) return undefined;
  for (const [x, b] of [add.inputs, [...add.inputs].reverse()]) {
    const bd = ix.dims(b);
    if (ix.g.initializers.has(b) && bd.length === 1 && ix.dims(x).length === 3 && bd[0] === ix.dims(x)[2])
      return [x, b];
  }
  return undefined;
}

/** Transpose(Reshape(x, [0, 0, heads, dh]), [0, 2, 1, 3]): x and heads. */
function splitHeads(ix: Index, name: string): { x: string; heads: number } | undefined {
  const t = ix.only(name, "Transpose");
  if (!t || ix.perm(t) !== "0,2,1,3") return undefined;
  const r = ix.only(t.inputs[0], "Reshape");
  const dims = r && ix.constant(r.inputs[1]);
  if (!r || dims?.length !== 4 || dims[0] !== 0 || dims[1] !== 0 || !(dims[2] > 0 && dims[3] > 0))
    return undefined;
  return { x: r.inputs[0], heads: dims[2] };
}

/** The 0/1 mask [batch, seq] behind unsqueeze((1 - mask) * min, [1, 2]) (o.attentionBias), and min. */
function paddingMask(ix: Index, name: string): { mask: string; min: number } | undefined {
  const un = ix.producer.get(name);
  if (un?.op !== "Unsqueeze" || ix.constant(un.inputs[1])?.join() !== "1,2") return undefined;
  const mul = ix.producer.get(un.inputs[0]);
  if (mul?.op !== "Mul") return undefined;
  const [m, c] = ix.constant(mul.inputs[1]) ? mul.inputs : [...mul.inputs].reverse();
  const min = ix.constant(c);
  if (min?.length !== 1 || !(min[0] <= MASK_MIN)) return undefined;
  const sub = ix.producer.get(m);
  if (sub?.op !== "Sub" || ix.constant(sub.inputs[0])?.join() !== "1") return undefined;
  const cast = ix.producer.get(sub.inputs[1]);
  const mask = cast?.op === "Cast" ? cast.inputs[0] : sub.inputs[1];
  return ix.dims(mask).length === 2 ? { mask, min: min[0] } : undefined;
}

function matchAttention(ix: Index, softmax: Node): AttentionMatch | undefined {
  const axis = softmax.attrs.axis;
  if (ix.dims(softmax.inputs[0]).length !== 4 || !axis || !("i" in axis) || axis.i !== 3) return undefined;
  const add = ix.only(softmax.inputs[0], "Add");
  if (!add) return undefined;
  const [scores, biasName] =
    ix.producer.get(add.inputs[0])?.op === "MatMul" ? add.inputs : [...add.inputs].reverse();
  const qk = ix.only(scores, "MatMul");
  const pad = paddingMask(ix, biasName);
  if (!qk || !pad) return undefined;
  const q = splitHeads(ix, qk.inputs[0]);
  const kT = ix.only(qk.inputs[1], "Transpose");
  const k = kT && ix.perm(kT) === "0,1,3,2" ? splitHeads(ix, kT.inputs[0]) : undefined;
  // softmax(...) v, then the heads merged back
  const pv = ix.reader(softmax.outputs[0], "MatMul");
  const v = pv?.inputs[0] === softmax.outputs[0] ? splitHeads(ix, pv.inputs[1]) : undefined;
  const merge = pv && ix.reader(pv.outputs[0], "Transpose");
  const last = merge && ix.perm(merge) === "0,2,1,3" ? ix.reader(merge.outputs[0], "Reshape") : undefined;
  const lastDims = last && ix.constant(last.inputs[1]);
  if (!q || !k || !v || lastDims?.length !== 3 || lastDims[0] !== 0 || lastDims[1] !== 0) return undefined;
  if (q.heads !== k.heads || q.heads !== v.heads) return undefined;
  // q scaled by a constant before the split: the kernel's scale
  let qIn = q.x;
  let scale = 1;
  const mul = ix.only(q.x, "Mul");
  if (mul) {
    const [x, c] = ix.constant(mul.inputs[1]) ? mul.inputs : [...mul.inputs].reverse();
    const cv = ix.constant(c);
    if (cv?.length === 1) [qIn, scale] = [x, cv[0]];
  }
  for (const x of [qIn, k.x, v.x])
    if (ix.dims(x).length !== 3 || ix.g.info.get(x)!.dtype !== "float32") return undefined;
  if (lastDims[2] !== ix.dims(qIn)[2]) return undefined;
  const biases = [qIn, k.x, v.x].map((x) => biasAdd(ix, x));
  const folded = biases.every((b) => b !== undefined) ? biases : undefined;
  return {
    last: last!,
    q: folded ? folded[0][0] : qIn,
    k: folded ? folded[1][0] : k.x,
    v: folded ? folded[2][0] : v.x,
    bias: folded && [folded[0][1], folded[1][1], folded[2][1]],
    mask: pad.mask,
    heads: q.heads,
    scale,
    maskFilterValue: pad.min,
  };
}

/** One [3d] initializer holding the q, k and v biases (MultiHeadAttention's layout). */
function packedBias(g: Graph, names: [string, string, string]): Value {
  const parts = names.map((n) => g.initializers.get(n)!.data as Float32Array);
  const data = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
  return g.initializer(g.fresh(`${names[0]}.qkv`), { dtype: "float32", dims: [data.length], data });
}

/** A copy of `graph` with its self-attention fused (see above); nodes left unused are dropped. */
export function fuseForInference(graph: Graph): Graph {
  const g = graph.clone();
  const nodes = g.nodes.splice(0);
  const ix = new Index(g, nodes);
  const matches = new Map<Node, AttentionMatch>();
  for (const n of nodes)
    if (n.op === "Softmax" && !n.domain) {
      const m = matchAttention(ix, n);
      if (m) matches.set(m.last, m);
    }
  const masks = new Map<string, Value>(); // the int32 mask, cast once for all layers
  for (const node of nodes) {
    const m = matches.get(node);
    if (!m) {
      g.nodes.push(node);
      continue;
    }
    let mask = masks.get(m.mask);
    if (!mask) masks.set(m.mask, (mask = o.cast(g.value(m.mask), "int32")));
    const bias = m.bias && packedBias(g, m.bias);
    const y = multiHeadAttention(g.value(m.q), g.value(m.k), g.value(m.v), bias, mask, {
      heads: m.heads,
      scale: m.scale,
      maskFilterValue: m.maskFilterValue,
    });
    // the fused node takes over the merged heads' name, so its readers are unchanged
    g.info.delete(y.name);
    g.nodes[g.nodes.length - 1].outputs[0] = node.outputs[0];
  }
  return g.prune();
}

/** Op types of ONNX Runtime's contrib kernels in `g`. */
export const contribOps = (g: Graph) =>
  new Set(g.nodes.filter((n) => n.domain === MS_DOMAIN).map((n) => n.op));
