// Does the graph builder add overhead? A GEMM-heavy graph made by the builder (12 layers of a
// 384 -> 1536 -> 384 MLP on 32 x 128 tokens, symbolic batch/sequence dims) against the same MatMul
// chain written by hand as an ONNX ModelProto, both run by ONNX Runtime in this process, alternated, with the same thread count (default: all cores).
// Prints median seconds, GFLOP/s and the ratio builder / hand-made (expected ~1.0).
//   npm run bench:gemm [-- --threads N --runs N]

import { availableParallelism } from "node:os";
import onnxProto from "onnx-proto";
import ort from "onnxruntime-node";
import { Graph } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";

const { onnx } = onnxProto;
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LAYERS = 12;
const D = 384;
const FF = 1536;
const B = 32;
const T = 128;
const threads = arg("threads", 0) || availableParallelism();
const runs = arg("runs", 5);

function weights(seed: number, n: number): Float32Array {
  const w = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    w[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  return w;
}
const W = Array.from({ length: LAYERS }, (_, l) => [weights(2 * l + 1, D * FF), weights(2 * l + 2, FF * D)]);

function builderGraph(): Graph {
  const g = new Graph("builder");
  let x = g.input("x", "float32", ["batch", "seq", D]);
  W.forEach(([up, down], l) => {
    x = o.matmul(x, g.initializer(`up${l}`, { dtype: "float32", dims: [D, FF], data: up }));
    x = o.matmul(x, g.initializer(`down${l}`, { dtype: "float32", dims: [FF, D], data: down }));
  });
  g.output(x, "y");
  return g;
}

function handMade(): Uint8Array {
  const node = [];
  const initializer = [];
  let prev = "x";
  for (let l = 0; l < LAYERS; l++)
    for (const [k, dims] of [
      [`up${l}`, [D, FF]],
      [`down${l}`, [FF, D]],
    ] as const) {
      const data = W[l][k.startsWith("up") ? 0 : 1];
      initializer.push({ name: k, dims: [...dims], dataType: 1, rawData: new Uint8Array(data.buffer) });
      const out = l === LAYERS - 1 && k.startsWith("down") ? "y" : `${k}_out`;
      node.push({ opType: "MatMul", input: [prev, k], output: [out] });
      prev = out;
    }
  const vi = (name: string) => ({
    name,
    type: {
      tensorType: { elemType: 1, shape: { dim: [{ dimValue: B }, { dimValue: T }, { dimValue: D }] } },
    },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 18 }],
    graph: { name: "hand", node, initializer, input: [vi("x")], output: [vi("y")] },
  }).finish();
}

const x = weights(99, B * T * D);
const builder = await Session.create(builderGraph(), { threads });
const hand = await ort.InferenceSession.create(handMade(), {
  intraOpNumThreads: threads,
  graphOptimizationLevel: "all",
});
const times: Record<string, number[]> = { builder: [], hand: [] };
const runBuilder = () => builder.run({ x: { dtype: "float32", dims: [B, T, D], data: x } });
const runHand = () => hand.run({ x: new ort.Tensor("float32", x, [B, T, D]) });
await runBuilder(); // warm-up
await runHand();
for (let i = 0; i < runs; i++)
  for (const [name, run] of [
    ["builder", runBuilder],
    ["hand", runHand],
  ] as const) {
    const t0 = performance.now();
    await run();
    times[name].push((performance.now() - t0) / 1000);
  }
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const flops = LAYERS * 2 * (2 * B * T * D * FF);
const mb = median(times.builder);
const mh = median(times.hand);
console.log(
  JSON.stringify({
    shape: `${LAYERS} x (${D}->${FF}->${D}) on ${B}x${T} tokens`,
    threads,
    runs,
    builder_s: +mb.toFixed(4),
    hand_s: +mh.toFixed(4),
    builder_gflops: +(flops / mb / 1e9).toFixed(1),
    hand_gflops: +(flops / mh / 1e9).toFixed(1),
    ratio_builder_over_hand: +(mb / mh).toFixed(3),
  }),
);
