// Serialisation: a graph survives the trip to ONNX protobuf bytes and back into ONNX Runtime, both
// inline and as a .onnx file with external data beside it (the path models over 2 GB take).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import onnxProto from "onnx-proto";
import { Graph } from "../../src/tensor/graph.ts";
import { saveModel, serialize } from "../../src/tensor/onnx.ts";
import * as o from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";

function smallModel(): Graph {
  const g = new Graph("mlp");
  const x = g.input("x", "float32", ["batch", 4]);
  const w = g.initializer("w", {
    dtype: "float32",
    dims: [4, 300],
    data: Float32Array.from({ length: 1200 }, (_, i) => (i % 7) - 3),
  });
  const b = g.initializer("b", {
    dtype: "float32",
    dims: [300],
    data: Float32Array.from({ length: 300 }, (_, i) => i / 100),
  });
  g.output(o.relu(o.add(o.matmul(x, w), b)), "y");
  return g;
}

const feeds = {
  x: { dtype: "float32" as const, dims: [2, 4], data: Float32Array.from([1, 2, 3, 4, -1, 0, 1, 0.5]) },
};

test("the ModelProto carries opset, symbolic dims, attributes and initializers", () => {
  const m = onnxProto.onnx.ModelProto.decode(serialize(smallModel()));
  const graph = m.graph!;
  const dims = graph.input![0].type!.tensorType!.shape!.dim!;
  assert.equal(Number(m.opsetImport[0].version), 18);
  assert.equal(dims[0].dimParam, "batch");
  assert.equal(Number(dims[1].dimValue), 4);
  assert.deepEqual(
    graph.node!.map((n) => n.opType),
    ["MatMul", "Add", "Relu", "Identity"],
  );
  assert.equal(graph.initializer!.find((t) => t.name === "w")!.rawData!.length, 1200 * 4);
});

test("external data: saved beside the .onnx, loaded by path, same outputs as inline", async () => {
  const dir = mkdtempSync(join(tmpdir(), "xlir-onnx-"));
  try {
    const g = smallModel();
    const path = join(dir, "model.onnx");
    saveModel(g, path);
    assert.ok(existsSync(`${path}.data`));
    assert.ok(statSync(path).size < 2000, "weights must live in the data file, not the .onnx");
    const fromFile = await Session.create(path, { threads: 1 });
    const inline = await Session.create(g, { threads: 1 });
    const a = (await fromFile.run(feeds)).y.data as Float32Array;
    const b = (await inline.run(feeds)).y.data as Float32Array;
    assert.deepEqual(Array.from(a), Array.from(b));
    assert.ok(a.some((v) => v > 0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("serialize refuses a model past protobuf's 2 GB limit and points to saveModel", () => {
  const g = new Graph("big");
  // a typed-array view that claims > 2 GiB is never allocated: only byteLength is read
  const fake = { byteLength: 2 ** 31, length: 2 ** 29 } as unknown as Float32Array;
  g.initializers.set("huge", { dtype: "float32", dims: [2 ** 29], data: fake });
  assert.throws(() => serialize(g), /exceed protobuf's 2 GB limit; save it with saveModel/);
});
