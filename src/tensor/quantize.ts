// Dynamic int8 quantization of a graph's linear layers, as ONNX Runtime's quantize_dynamic does it.
// Each MatMul whose right operand is a constant float32 matrix (an initializer, or the Transpose of
// one: how models/layers.ts keeps PyTorch's [out, in] weights) becomes
//   DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q, x_zero, w_zero) -> Cast -> Mul(x_scale * w_scale)
// which ONNX Runtime fuses into one DynamicQuantizeMatMul kernel (an integer GEMM); a bias Add after
// it is fused too. Everything else (embeddings, LayerNorm, attention) stays float32, and
// weights fed as graph inputs (training) are left alone.
//
// Weights are 8-bit, symmetric (integers in [-127, 127]), one scale per output column; activations
// uint8 with one scale per tensor per run. How the weights are stored depends on the CPU, never their
// values: as int8 where ONNX Runtime's u8 x s8 kernel is exact (VNNI, ARM), and as uint8 with zero
// point 128 on x86 CPUs without VNNI, whose u8 x s8 kernel adds pairs of products in int16
// (vpmaddubsw) and overflows with full-range weights (2 * 255 * 127 > 32767; measured: cosine 0.97
// to float32 on an e5-small shape). ONNX Runtime's own answer, 7-bit weights (reduce_range), costs
// accuracy (cosine 0.9969 vs 0.9995 with 8 bits, same shape, random weights); the u8 x u8 kernel is ~15% slower
// than u8 x s8 but exact, and every CPU gets the same embeddings.

import { readFileSync } from "node:fs";
import type { Graph, Node, Value } from "./graph.ts";
import * as o from "./ops.ts";

/** "int8" where ONNX Runtime's u8 x s8 kernel cannot overflow, else "uint8" (see above). */
export function weightStorage(): "int8" | "uint8" {
  if (process.arch !== "x64") return "int8";
  try {
    return /\b(avx512_vnni|avx_vnni)\b/.test(readFileSync("/proc/cpuinfo", "utf8")) ? "int8" : "uint8";
  } catch {
    return "uint8"; // no /proc: assume the worst
  }
}

export interface QuantizedMatrix {
  /** int8 [k, n] row-major (the MatMul's B layout). */
  data: Int8Array;
  /** float32 [n]: column j of B is data[:, j] * scale[j]. */
  scale: Float32Array;
}

/**
 * Symmetric per-column quantization of a [k, n] matrix B to integers in [-127, 127]. With
 * `transposed`, `w` holds Bᵀ, [n, k] row-major (a PyTorch linear weight), and the result is still B.
 */
export function quantizeColumns(w: Float32Array, k: number, n: number, transposed: boolean): QuantizedMatrix {
  if (w.length !== k * n) throw new Error(`quantizeColumns: ${w.length} values are not ${k} x ${n}`);
  const scale = new Float32Array(n);
  const data = new Int8Array(k * n);
  if (transposed) {
    // column c of B is row c of w (contiguous); B is written tile by tile so that neither side
    // strides through memory (a 256k x 1024 vocabulary projection is otherwise slow)
    for (let c = 0; c < n; c++) {
      let m = 0;
      for (let i = c * k; i < (c + 1) * k; i++) m = Math.max(m, Math.abs(w[i]));
      scale[c] = m > 0 ? m / 127 : 1;
    }
    const T = 64;
    for (let c0 = 0; c0 < n; c0 += T)
      for (let r0 = 0; r0 < k; r0 += T)
        for (let c = c0; c < Math.min(c0 + T, n); c++)
          for (let r = r0; r < Math.min(r0 + T, k); r++)
            data[r * n + c] = Math.round(w[c * k + r] / scale[c]);
  } else {
    for (let i = 0; i < k * n; i++) scale[i % n] = Math.max(scale[i % n], Math.abs(w[i]));
    for (let c = 0; c < n; c++) scale[c] = scale[c] > 0 ? scale[c] / 127 : 1;
    for (let i = 0; i < k * n; i++) data[i] = Math.round(w[i] / scale[i % n]);
  }
  return { data, scale };
}

/** The initializer holding B of a MatMul, directly or through a 2-D Transpose; else undefined. */
function constantMatrix(g: Graph, name: string, producers: Map<string, Node>) {
  const direct = g.initializers.get(name);
  if (direct)
    return direct.dtype === "float32" && direct.dims.length === 2 ? { name, transposed: false } : undefined;
  const p = producers.get(name);
  const perm = p?.attrs.perm;
  if (p?.op !== "Transpose" || !perm || !("ints" in perm) || perm.ints.join() !== "1,0") return undefined;
  const src = g.initializers.get(p.inputs[0]);
  return src?.dtype === "float32" && src.dims.length === 2
    ? { name: p.inputs[0], transposed: true }
    : undefined;
}

/** A copy of `graph` whose linear layers run in int8 (see above); unused float weights are dropped. */
export function quantizeLinears(
  graph: Graph,
  opts: {
    storage?: "int8" | "uint8";
    /**
     * Which weights (initializer names) to quantize; default all. A training graph quantizes only
     * weights no gradient flows through (MatMulInteger has no gradient rule), e.g. a frozen encoder
     * that autodiff pruned from the backward pass.
     */
    weights?: (name: string) => boolean;
  } = {},
): Graph {
  const storage = opts.storage ?? weightStorage();
  const zero = storage === "uint8" ? 128 : 0;
  const g = graph.clone();
  const nodes = g.nodes.splice(0);
  const producers = new Map(nodes.flatMap((n) => n.outputs.map((out) => [out, n] as const)));
  const weights = new Map<string, [string, string]>(); // weight -> its integer and scale initializers
  const activations = new Map<string, [Value, Value, Value]>(); // x -> DynamicQuantizeLinear(x)
  for (const node of nodes) {
    const found = node.op === "MatMul" ? constantMatrix(g, node.inputs[1], producers) : undefined;
    const w = found && (opts.weights?.(found.name) ?? true) ? found : undefined;
    if (!w) {
      g.nodes.push(node);
      continue;
    }
    let names = weights.get(w.name);
    if (!names) {
      const t = g.initializers.get(w.name)!;
      const [k, n] = w.transposed ? [t.dims[1], t.dims[0]] : t.dims;
      const q = quantizeColumns(t.data as Float32Array, k, n, w.transposed);
      let data: Int8Array | Uint8Array = q.data;
      if (storage === "uint8") {
        data = new Uint8Array(q.data.length);
        for (let i = 0; i < data.length; i++) data[i] = q.data[i] + zero;
      }
      const wq = g.initializer(g.fresh(`${w.name}.${storage}`), { dtype: storage, dims: [k, n], data });
      const ws = g.initializer(g.fresh(`${w.name}.scale`), { dtype: "float32", dims: [n], data: q.scale });
      names = [wq.name, ws.name];
      weights.set(w.name, names);
    }
    // x feeding several layers (query, key, value) is quantized once
    let xQuant = activations.get(node.inputs[0]);
    if (!xQuant) activations.set(node.inputs[0], (xQuant = o.dynamicQuantizeLinear(g.value(node.inputs[0]))));
    const [xq, xScale, xZero] = xQuant;
    const wZero = zero ? g.scalar(zero, "uint8") : undefined;
    const product = o.cast(o.matMulInteger(xq, g.value(names[0]), xZero, wZero), "float32");
    const y = o.mul(product, o.mul(xScale, g.value(names[1])));
    // the last node takes over the MatMul's output name, so its consumers read it unchanged
    g.info.delete(y.name);
    g.nodes[g.nodes.length - 1].outputs[0] = node.outputs[0];
  }
  return g.prune();
}
