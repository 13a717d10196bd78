// What grad() promises besides exact values: outputs named grad.<w>, initializers as well as inputs,
// zero gradients for unused parameters, no gradient through integer paths, clear errors.

import assert from "node:assert/strict";
import { test } from "node:test";
import { grad, gradName } from "../../src/tensor/autodiff.ts";
import { Graph } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";

test("grad outputs the loss and one gradient per wrt name, for inputs and initializers alike", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", [3]);
  const w = g.initializer("w", { dtype: "float32", dims: [3], data: Float32Array.from([1, 2, 3]) });
  const unused = g.input("unused", "float32", [2]);
  void unused;
  const loss = o.sumAll(o.mul(o.mul(x, w), x)); // sum w x^2
  const gg = grad(g, loss, ["x", "w", "unused"]);
  assert.deepEqual(
    gg.outputs.map((v) => v.name),
    ["loss", gradName("x"), gradName("w"), gradName("unused")],
  );
  const s = await Session.create(gg, { threads: 1 });
  const out = await s.run({
    x: { dtype: "float32", dims: [3], data: Float32Array.from([1, -1, 2]) },
    unused: { dtype: "float32", dims: [2], data: new Float32Array(2) },
  });
  assert.deepEqual(Array.from(out.loss.data as Float32Array), [1 + 2 + 12]);
  assert.deepEqual(Array.from(out[gradName("x")].data as Float32Array), [2, -4, 12]); // 2 w x
  assert.deepEqual(Array.from(out[gradName("w")].data as Float32Array), [1, 1, 4]); // x^2
  assert.deepEqual(Array.from(out[gradName("unused")].data as Float32Array), [0, 0]);
  await s.release();
});

test("gradients of non-differentiable paths are absent: mask and ids get none, the rest flows", () => {
  const g = new Graph();
  const emb = g.input("emb", "float32", [10, 4]);
  const ids = g.input("ids", "int64", ["b", "t"]);
  const mask = g.input("mask", "float32", ["b", "t"]);
  const loss = o.sumAll(o.maskedMean(o.gather(emb, ids), mask));
  const gg = grad(g, loss, ["emb"]);
  // the Equal/Greater-free path: no rule was asked for ids or mask, and the graph has a ScatterND
  assert.ok(gg.nodes.some((n) => n.op === "ScatterND"));
  assert.equal(gg.outputs.length, 2);
});

test("grad errors are clear", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [3]);
  assert.throws(() => grad(g, o.mul(x, 2), ["x"]), /autodiff: the loss must be a float scalar/);
  assert.throws(() => grad(g, o.sumAll(x), ["nope"]), /no value named "nope"/);
  const g2 = new Graph();
  const y = g2.input("y", "float32", [3]);
  const l = o.sumAll(o.pad(y, g2.ints([1, 1]), [5]));
  assert.throws(() => grad(g2, l, ["y"]), /autodiff: no gradient rule for Pad/);
});
