// Dynamic int8 quantization: per-column weight scales, which MatMuls are rewritten (constant weights
// only), results equal to exact integer arithmetic on the quantized operands — with the weight
// storage chosen for this CPU (no int16 saturation in ONNX Runtime's kernel) and with uint8 storage,
// which must be exact everywhere — and ONNX Runtime fusing the pattern into its DynamicQuantizeMatMul
// kernel, which the speed depends on.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import onnxProto from "onnx-proto";
import ort from "onnxruntime-node";
import { Graph } from "../../src/tensor/graph.ts";
import { serialize } from "../../src/tensor/onnx.ts";
import * as o from "../../src/tensor/ops.ts";
import { quantizeColumns, quantizeLinears, weightStorage } from "../../src/tensor/quantize.ts";
import { Session } from "../../src/tensor/session.ts";

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

test("quantizeColumns: one scale per column, max |value| maps to ±127", () => {
  // B = [[1, -3], [0.25, 4]]: column scales 1/127 and 4/127; 0.25 * 127 = 31.75, -3 * 127 / 4 = -95.25
  const b = Float32Array.from([1, -3, 0.25, 4]);
  const q = quantizeColumns(b, 2, 2, false);
  assert.deepEqual([...q.scale], [1 / 127, 4 / 127].map(Math.fround));
  assert.deepEqual([...q.data], [127, -95, 32, 127]);
});

test("quantizeColumns: a transposed input ([n, k], PyTorch's linear weight) gives the same B", () => {
  const k = 70; // not multiples of the 64 x 64 tiles
  const n = 130;
  const b = values(k * n, 3);
  const bt = new Float32Array(k * n);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) bt[c * k + r] = b[r * n + c];
  const direct = quantizeColumns(b, k, n, false);
  const viaT = quantizeColumns(bt, k, n, true);
  assert.deepEqual(viaT, direct);
  for (let r = 0; r < k; r++)
    for (let c = 0; c < n; c++) {
      const i = r * n + c;
      assert.ok(Math.abs(direct.data[i]) <= 127);
      assert.ok(Math.abs(direct.data[i] * direct.scale[c] - b[i]) <= direct.scale[c] / 2 + 1e-7);
    }
});

/** x [rows, 48] -> linear (PyTorch layout, through Transpose) -> plain [48, 24] weight; plus x xᵀ. */
function linearGraph(): Graph {
  const g = new Graph();
  const x = g.input("x", "float32", ["rows", 48]);
  const w1 = g.initializer("w1", { dtype: "float32", dims: [32, 48], data: values(32 * 48, 1) });
  const b1 = g.initializer("b1", { dtype: "float32", dims: [32], data: values(32, 2) });
  const w2 = g.initializer("w2", { dtype: "float32", dims: [32, 24], data: values(32 * 24, 4) });
  const trained = g.input("w3", "float32", [24, 8]); // a weight being trained: left alone
  const h = o.relu(o.add(o.matmul(x, o.transpose(w1, [1, 0])), b1));
  const y = o.matmul(h, w2);
  g.output(y, "y");
  g.output(o.matmul(y, trained), "z");
  g.output(o.matmul(x, o.transpose(x, [1, 0])), "gram");
  return g;
}

const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;

test("quantizeLinears rewrites MatMuls with constant weights only, and drops the float weights", () => {
  const g = linearGraph();
  const q = quantizeLinears(g, { storage: "int8" });
  assert.equal(count(q, "MatMulInteger"), 2);
  assert.equal(count(q, "DynamicQuantizeLinear"), 2);
  assert.equal(count(q, "MatMul"), 2); // y·w3 (w3 is an input) and x·xᵀ (not a constant)
  assert.ok(!q.initializers.has("w1") && !q.initializers.has("w2"));
  assert.ok(q.initializers.has("b1"));
  const int8 = [...q.initializers.values()].filter((t) => t.dtype === "int8");
  assert.deepEqual(
    int8.map((t) => t.dims),
    [
      [48, 32],
      [32, 24],
    ],
  );
  assert.ok(q.initializerBytes() < g.initializerBytes() / 3);
  assert.equal(count(g, "MatMul"), 4, "the original graph is unchanged");
});

test("quantizeLinears with a weights filter leaves the other weights in float32", () => {
  const q = quantizeLinears(linearGraph(), { storage: "int8", weights: (w) => w === "w1" });
  assert.equal(count(q, "MatMulInteger"), 1);
  assert.ok(!q.initializers.has("w1") && q.initializers.get("w2")?.dtype === "float32");
});

/** DynamicQuantizeLinear as the ONNX spec defines it (round half to even, range includes 0). */
function dynamicQuantize(x: Float32Array): { q: Uint8Array; scale: number; zero: number } {
  const lo = Math.min(0, ...x);
  const hi = Math.max(0, ...x);
  const scale = Math.fround((hi - lo) / 255);
  const even = (v: number) => {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  const zero = Math.min(255, Math.max(0, even(-lo / scale)));
  const q = Uint8Array.from(x, (v) => Math.min(255, Math.max(0, even(v / scale) + zero)));
  return { q, scale, zero };
}

for (const storage of new Set([weightStorage(), "uint8"] as const))
  test(`quantized linears (${storage} weights) equal exact integer arithmetic: no saturation`, async () => {
    // worst case for int16 sums of adjacent products: activations near the top of the uint8 range
    // (one small value sets the zero point near 0), weights of one sign per column near ±127
    const rows = 3;
    const k = 64;
    const n = 16;
    const x = Float32Array.from({ length: rows * k }, (_, i) => (i === 5 ? -0.01 : 4 - (i % 7) / 100));
    const w = Float32Array.from({ length: k * n }, (_, i) => (i % n < n / 2 ? 1 : -1) * (1 - (i % 3) / 100));
    const g = new Graph();
    const xv = g.input("x", "float32", ["rows", k]);
    g.output(o.matmul(xv, g.initializer("w", { dtype: "float32", dims: [k, n], data: w })), "y");
    const s = await Session.create(quantizeLinears(g, { storage }), { threads: 1 });
    const got = (await s.run({ x: { dtype: "float32", dims: [rows, k], data: x } })).y.data as Float32Array;
    await s.release();

    const wq = quantizeColumns(w, k, n, false);
    const all = dynamicQuantize(x); // one scale for the whole tensor
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < n; c++) {
        let acc = 0;
        for (let i = 0; i < k; i++) acc += (all.q[r * k + i] - all.zero) * wq.data[i * n + c];
        const want = acc * all.scale * wq.scale[c];
        assert.ok(
          Math.abs(got[r * n + c] - want) <= 1e-5 * Math.max(1, Math.abs(want)),
          `y[${r}, ${c}] = ${got[r * n + c]}, exact ${want}`,
        );
      }
    }
  });

for (const storage of ["int8", "uint8"] as const)
  test(`ONNX Runtime fuses the quantized linears (${storage} weights) into DynamicQuantizeMatMul`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "xlir-quantize-"));
    try {
      const path = join(dir, "optimized.onnx");
      const s = await ort.InferenceSession.create(serialize(quantizeLinears(linearGraph(), { storage })), {
        graphOptimizationLevel: "all",
        optimizedModelFilePath: path,
        logSeverityLevel: 3,
      });
      await s.release();
      const ops = onnxProto.onnx.ModelProto.decode(readFileSync(path)).graph!.node!.map((n) => n.opType);
      assert.ok(!ops.includes("MatMulInteger"), `unfused MatMulInteger left: ${ops.join(" ")}`);
      assert.equal(
        ops.filter((op) => op === "DynamicQuantizeMatMul" || op === "MatMulIntegerToFloat").length,
        2,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
