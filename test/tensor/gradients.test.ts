// A finite-difference check of every differentiable op's gradient rule, in float64, with the
// broadcasting and symbolic-dim cases that make the rules do real work (relative error < 1e-4).

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Graph, Value } from "../../src/tensor/graph.ts";
import { RULES } from "../../src/tensor/gradients.ts";
import * as o from "../../src/tensor/ops.ts";
import { f64, gradCheck, randn, rng } from "./gradcheck.ts";

const rand = rng(42);
const r = (...dims: number[]) =>
  f64(
    dims,
    randn(
      rand,
      dims.reduce((a, b) => a * b, 1),
    ),
  );
/** Positive values away from 0 (for Log, Sqrt, Pow bases). */
const pos = (...dims: number[]) =>
  f64(
    dims,
    randn(
      rand,
      dims.reduce((a, b) => a * b, 1),
    ).map((v) => 0.5 + Math.abs(v)),
  );
/** Values away from 0 so kinks (Relu, Abs, Max ties) are never straddled by the finite difference. */
const apart = (...dims: number[]) =>
  f64(
    dims,
    randn(
      rand,
      dims.reduce((a, b) => a * b, 1),
    ).map((v) => (v < 0 ? v - 0.1 : v + 0.1)),
  );

type Case = [
  string,
  Parameters<typeof gradCheck>[0],
  (g: Graph, x: Record<string, Value>) => Value,
  Parameters<typeof gradCheck>[2]?,
];

const cases: Case[] = [
  ["Add broadcast [2,3]+[3]", { a: r(2, 3), b: r(3) }, (_, { a, b }) => o.add(a, b)],
  ["Add broadcast [2,1,3]+[4,1]", { a: r(2, 1, 3), b: r(4, 1) }, (_, { a, b }) => o.add(a, b)],
  ["Sub broadcast [4,1]-[1,3]", { a: r(4, 1), b: r(1, 3) }, (_, { a, b }) => o.sub(a, b)],
  ["Mul broadcast [2,3,4]*[3,1]", { a: r(2, 3, 4), b: r(3, 1) }, (_, { a, b }) => o.mul(a, b)],
  ["Mul by a scalar constant", { a: r(3, 2) }, (_, { a }) => o.mul(a, 1.7)],
  ["Div broadcast [2,3]/[2,1]", { a: r(2, 3), b: pos(2, 1) }, (_, { a, b }) => o.div(a, b)],
  ["Div scalar / tensor", { b: pos(5) }, (_, { b }) => o.div(2, b)],
  ["Pow tensor base, constant exponent", { a: pos(2, 3) }, (_, { a }) => o.pow(a, 2.5)],
  ["Pow both, broadcast exponent", { a: pos(2, 3), b: r(3) }, (_, { a, b }) => o.pow(a, b)],
  [
    "Max broadcast [2,3] vs [3]",
    { a: apart(2, 3), b: f64([3], [-0.5, 0.5, 3]) },
    (_, { a, b }) => o.max(a, b),
  ],
  ["Neg", { a: r(4) }, (_, { a }) => o.neg(a)],
  ["Abs", { a: apart(2, 3) }, (_, { a }) => o.abs(a)],
  ["Exp", { a: r(2, 3) }, (_, { a }) => o.exp(a)],
  ["Log", { a: pos(2, 3) }, (_, { a }) => o.log(a)],
  ["Sqrt", { a: pos(2, 3) }, (_, { a }) => o.sqrt(a)],
  ["Erf", { a: r(3, 4) }, (_, { a }) => o.erf(a)],
  ["Tanh", { a: r(3, 4) }, (_, { a }) => o.tanh(a)],
  ["Sigmoid", { a: r(3, 4) }, (_, { a }) => o.sigmoid(a)],
  ["Relu", { a: apart(3, 4) }, (_, { a }) => o.relu(a)],
  ["Gelu (erf form)", { a: r(3, 4) }, (_, { a }) => o.gelu(a)],
  ["Identity", { a: r(3) }, (_, { a }) => o.identity(a)],
  [
    "Where broadcast",
    { a: r(2, 3), b: r(3) },
    (g, { a, b }) => o.where(o.greater(g.constant("float64", [1, -1, 1, 1, 1, -1], [2, 3]), 0), a, b),
  ],
  ["Cast float64 -> float64", { a: r(2, 2) }, (_, { a }) => o.cast(a, "float64")],
  ["MatMul 2-D", { a: r(3, 4), b: r(4, 2) }, (_, { a, b }) => o.matmul(a, b)],
  [
    "MatMul [2,3,4] x [4,5] (weight folds batch)",
    { a: r(2, 3, 4), b: r(4, 5) },
    (_, { a, b }) => o.matmul(a, b),
  ],
  [
    "MatMul batched broadcast [2,1,3,4] x [3,4,2]",
    { a: r(2, 1, 3, 4), b: r(3, 4, 2) },
    (_, { a, b }) => o.matmul(a, b),
  ],
  [
    "MatMul symbolic batch",
    { a: r(2, 3, 4), b: r(4, 5) },
    (_, { a, b }) => o.matmul(a, b),
    { shapes: { a: ["B", "T", 4] } },
  ],
  [
    "Gemm",
    { a: r(3, 4), b: r(4, 2), c: r(2) },
    (_, { a, b, c }) => o.gemm(a, b, c, { alpha: 0.7, beta: 1.3 }),
  ],
  [
    "Gemm transA",
    { a: r(4, 3), b: r(4, 2), c: r(3, 1) },
    (_, { a, b, c }) => o.gemm(a, b, c, { transA: true }),
  ],
  [
    "Gemm transB",
    { a: r(3, 4), b: r(2, 4) },
    (_, { a, b }) => o.gemm(a, b, undefined, { transB: true, alpha: 2 }),
  ],
  [
    "Gemm transA transB",
    { a: r(4, 3), b: r(2, 4), c: r(3, 2) },
    (_, { a, b, c }) => o.gemm(a, b, c, { transA: true, transB: true }),
  ],
  ["Softmax last axis", { a: r(2, 5) }, (_, { a }) => o.softmax(a)],
  ["Softmax axis 0", { a: r(3, 2) }, (_, { a }) => o.softmax(a, 0)],
  ["LogSoftmax", { a: r(2, 5) }, (_, { a }) => o.logSoftmax(a)],
  ["LogSoftmax axis 1 of 3", { a: r(2, 3, 2) }, (_, { a }) => o.logSoftmax(a, 1)],
  ["LayerNormalization", { a: r(2, 3, 5), s: r(5), b: r(5) }, (_, { a, s, b }) => o.layerNorm(a, s, b, 1e-5)],
  ["ReduceSum keepdims", { a: r(2, 3, 4) }, (_, { a }) => o.reduceSum(a, [0, 2], true)],
  ["ReduceSum", { a: r(2, 3, 4) }, (_, { a }) => o.reduceSum(a, [1])],
  ["ReduceMean", { a: r(2, 3, 4) }, (_, { a }) => o.reduceMean(a, [-1])],
  [
    "ReduceMean over a symbolic dim",
    { a: r(2, 5, 3) },
    (_, { a }) => o.reduceMean(a, [1]),
    { shapes: { a: [2, "T", 3] } },
  ],
  ["ReduceMax", { a: r(3, 4) }, (_, { a }) => o.reduceMax(a, [1], true)],
  ["ReduceMax two axes", { a: r(2, 3, 4) }, (_, { a }) => o.reduceMax(a, [0, 2])],
  [
    "Gather embedding rows (repeated ids)",
    { e: r(5, 3) },
    (g, { e }) => o.gather(e, g.constant("int64", [1, 3, 1, 0, 4, 1], [2, 3])),
  ],
  ["Reshape with 0 and -1", { a: r(2, 3, 4) }, (_, { a }) => o.reshape(a, [0, -1])],
  ["Reshape symbolic", { a: r(2, 6) }, (_, { a }) => o.reshape(a, [0, 3, 2]), { shapes: { a: ["B", 6] } }],
  ["Transpose", { a: r(2, 3, 4) }, (_, { a }) => o.transpose(a, [2, 0, 1])],
  ["Unsqueeze", { a: r(2, 3) }, (_, { a }) => o.unsqueeze(a, [0, 2])],
  ["Squeeze", { a: r(2, 1, 3) }, (_, { a }) => o.squeeze(a, [1])],
  ["Concat static", { a: r(2, 3), b: r(2, 1), c: r(2, 2) }, (_, { a, b, c }) => o.concat([a, b, c], 1)],
  [
    "Concat symbolic",
    { a: r(2, 3), b: r(4, 3) },
    (_, { a, b }) => o.concat([a, b], 0),
    { shapes: { a: ["N", 3], b: ["M", 3] } },
  ],
  ["Slice", { a: r(4, 5) }, (_, { a }) => o.slice(a, [1, -3], [3, 100], [0, 1])],
  ["Slice symbolic", { a: r(3, 6) }, (_, { a }) => o.slice(a, [1], [4], [1]), { shapes: { a: ["B", "T"] } }],
  ["Expand", { a: r(3, 1) }, (g, { a }) => o.expand(a, g.ints([2, 3, 4]), [2, 3, 4])],
  ["TopK values", { a: apart(3, 5) }, (_, { a }) => o.topK(a, 2)[0]],
];

for (const [name, feeds, build, opts] of cases) {
  test(`gradient of ${name}`, async () => {
    const { relErr, analytic } = await gradCheck(feeds, build, opts);
    for (const [w, e] of Object.entries(relErr)) {
      assert.ok(e < 1e-4, `${name}: d/d${w} relative error ${e}`);
      assert.ok(
        analytic[w].some((v) => v !== 0),
        `${name}: d/d${w} is all zeros, the check would be vacuous`,
      );
    }
  });
}

test("every op with a gradient rule has a finite-difference case above", () => {
  const covered = new Set(cases.map(([n]) => n.split(" ")[0]));
  for (const op of Object.keys(RULES)) assert.ok(covered.has(op), `no gradient check names ${op}`);
});
