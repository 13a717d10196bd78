// Graph bookkeeping: pruning dead nodes and weights, and omitted trailing optional inputs.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Graph } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";

test("prune drops nodes no output needs and the weights only they read; constants are made anew", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2]);
  const used = g.initializer("used", { dtype: "float32", dims: [2], data: Float32Array.of(1, 2) });
  const dead = g.initializer("dead", { dtype: "float32", dims: [2], data: Float32Array.of(3, 4) });
  const three = g.scalar(3, "float32");
  o.mul(o.add(x, dead), three); // nothing reads this
  g.output(o.add(x, used), "y");
  g.prune();
  assert.deepEqual(
    g.nodes.map((n) => n.op),
    ["Add", "Identity"],
  );
  assert.deepEqual([...g.initializers.keys()], ["used"]);
  assert.throws(() => g.value(dead.name), /no value named/);
  const again = g.scalar(3, "float32");
  assert.ok(g.initializers.has(again.name), "a pruned constant must not be handed out again");
  assert.deepEqual(
    g.inputs.map((i) => i.name),
    ["x"],
  );
});

test("trailing omitted optional inputs are left out of the node", () => {
  const g = new Graph();
  const a = g.input("a", "uint8", [2, 3]);
  const b = g.input("b", "int8", [3, 4]);
  o.matMulInteger(a, b);
  assert.deepEqual(g.nodes[0].inputs, ["a", "b"]);
});
