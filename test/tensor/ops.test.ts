// Forward values of the composite helpers against plain-JS references, and the build-time errors
// that name the op and the shapes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Graph, type TensorData } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";

const f32 = (dims: number[], data: number[]): TensorData => ({
  dtype: "float32",
  dims,
  data: Float32Array.from(data),
});

async function run(g: Graph, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
  const s = await Session.create(g, { threads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

test("gelu is the exact erf form (values from erf tables)", async () => {
  const g = new Graph();
  g.output(o.gelu(g.input("x", "float32", [4])), "y");
  const y = (await run(g, { x: f32([4], [-1, 0, 1, 2]) })).y.data as Float32Array;
  // x/2 (1 + erf(x/sqrt 2)) with erf(1/sqrt 2) = 0.6826894921, erf(sqrt 2) = 0.9544997361
  const want = [-0.5 * (1 - 0.6826894921), 0, 0.5 * (1 + 0.6826894921), 1 + 0.9544997361];
  want.forEach((w, i) => assert.ok(Math.abs(y[i] - w) < 1e-6, `gelu(${i}) ${y[i]} vs ${w}`));
});

test("maskedMean averages only unmasked positions; l2Normalize gives unit rows", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", ["b", "t", 2]);
  const m = g.input("m", "float32", ["b", "t"]);
  const mean = o.maskedMean(x, m);
  g.output(mean, "mean");
  g.output(o.l2Normalize(mean), "unit");
  const out = await run(g, {
    x: f32([1, 3, 2], [1, 2, 3, 4, 100, 100]),
    m: f32([1, 3], [1, 1, 0]),
  });
  assert.deepEqual(Array.from(out.mean.data as Float32Array), [2, 3]);
  const u = out.unit.data as Float32Array;
  assert.ok(Math.abs(u[0] - 2 / Math.sqrt(13)) < 1e-7 && Math.abs(u[1] - 3 / Math.sqrt(13)) < 1e-7);
});

test("attentionBias masks padded keys out of softmax", async () => {
  const g = new Graph();
  const scores = g.input("s", "float32", [1, 1, 1, 3]);
  const mask = g.input("m", "float32", [1, 3]);
  g.output(o.softmax(o.add(scores, o.attentionBias(mask, "float32"))), "p");
  const p = (await run(g, { s: f32([1, 1, 1, 3], [0.3, 0.1, 5]), m: f32([1, 3], [1, 1, 0]) })).p
    .data as Float32Array;
  assert.equal(p[2], 0);
  assert.ok(Math.abs(p[0] + p[1] - 1) < 1e-6 && p[0] > p[1]);
});

test("shapes are inferred through symbolic dims", () => {
  const g = new Graph();
  const x = g.input("x", "float32", ["batch", "seq", 8]);
  const w = g.initializer("w", { dtype: "float32", dims: [8, 4], data: new Float32Array(32) });
  const y = o.matmul(x, w);
  assert.deepEqual(y.shape, ["batch", "seq", 4]);
  assert.deepEqual(o.reshape(y, [0, 0, 2, 2]).shape, ["batch", "seq", 2, 2]);
  assert.deepEqual(o.reshape(o.reshape(y, [0, 0, 2, 2]), [0, 0, -1]).shape, ["batch", "seq", 4]);
  assert.deepEqual(o.reduceMean(y, [1]).shape, ["batch", 4]);
  assert.deepEqual(o.gather(w, g.input("ids", "int64", ["batch", "seq"])).shape, ["batch", "seq", 4]);
  assert.deepEqual(o.concat([x, x], 1).shape, ["batch", "seq+seq", 8]);
  assert.deepEqual(o.slice(x, [1], [3], [1]).shape, ["batch", 2, 8]);
});

test("build-time errors name the op and the shapes", () => {
  const g = new Graph();
  const a = g.input("a", "float32", [2, 3]);
  const b = g.input("b", "float32", [4, 5]);
  assert.throws(() => o.add(a, b), /^Error: Add: shapes \[2,3\] and \[4,5\] do not broadcast/);
  assert.throws(() => o.matmul(a, b), /^Error: MatMul: inner dims differ: \[2,3\] x \[4,5\]/);
  assert.throws(() => o.reshape(a, [4, 2]), /Reshape: cannot reshape a: float32\[2,3\] \(6 elements\)/);
  assert.throws(() => o.transpose(a, [0, 0]), /Transpose: perm \[0,0\] is not a permutation/);
  assert.throws(() => o.softmax(a, 2), /Softmax: axis 2 is out of range for rank 2/);
  assert.throws(() => o.squeeze(a, [0]), /Squeeze: axis 0 of a: float32\[2,3\] is not 1/);
  assert.throws(() => o.layerNorm(a, b, b, 1e-5), /LayerNormalization: scale and bias must be \[3\]/);
  assert.throws(() => o.add(a, g.input("i", "int64", [3])), /Add: dtypes differ/);
  assert.throws(() => o.gather(a, a), /Gather: indices must be int64 or int32/);
  assert.throws(() => g.input("a", "float32", [1]), /the name "a" is already used/);
  const other = new Graph("other");
  assert.throws(() => o.add(a, other.input("z", "float32", [3])), /belongs to another graph/);
  assert.throws(
    () => g.initializer("w", { dtype: "float32", dims: [2, 2], data: new Float32Array(3) }),
    /initializer w: 3 values do not fill dims \[2,2\]/,
  );
});
