// The runtime wrapper: one session serves every batch/sequence size through symbolic dims, thread
// counts are honoured, float64 and int64 feeds pass through, CUDA falls back to CPU with a warning;
// weights still in their checkpoint (lazyTensor) are read once, when the session is created.

import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checkpoint } from "../../src/models/checkpoint.ts";
import { encoderGraph } from "../../src/models/encoder-graph.ts";
import { Graph, isLazy, lazyTensor } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";
import { Session } from "../../src/tensor/session.ts";
import { wordE5Dir } from "../helpers/tiny-models.ts";

function embedSum(): Graph {
  const g = new Graph();
  const table = g.initializer("t", {
    dtype: "float32",
    dims: [5, 2],
    data: Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]),
  });
  const ids = g.input("ids", "int64", ["batch", "seq"]);
  g.output(o.reduceSum(o.gather(table, ids), [1]), "y");
  return g;
}

test("one session runs batches of different sizes (symbolic dims)", async () => {
  const s = await Session.create(embedSum(), { threads: 1 });
  for (const [b, t] of [
    [1, 3],
    [4, 2],
    [2, 7],
  ]) {
    const ids = BigInt64Array.from({ length: b * t }, (_, i) => BigInt(i % 5));
    const y = await s.run({ ids: { dtype: "int64", dims: [b, t], data: ids } });
    assert.deepEqual(y.y.dims, [b, 2]);
    for (let r = 0; r < b; r++) {
      let want = 0;
      for (let j = 0; j < t; j++) want += Number(ids[r * t + j]);
      assert.equal((y.y.data as Float32Array)[r * 2], want);
    }
  }
  await s.release();
});

test("threads option and output selection", async () => {
  const g = new Graph();
  const x = g.input("x", "float64", [2]);
  g.output(o.mul(x, 3), "a");
  g.output(o.add(x, 1), "b");
  for (const threads of [1, 2]) {
    const s = await Session.create(g, { threads });
    const out = await s.run({ x: { dtype: "float64", dims: [2], data: Float64Array.from([0.5, 1]) } }, ["b"]);
    assert.deepEqual(Object.keys(out), ["b"]);
    assert.deepEqual(Array.from(out.b.data as Float64Array), [1.5, 2]);
    await s.release();
  }
});

test("asking for CUDA where it is absent warns once and runs on CPU", async () => {
  const warnings: string[] = [];
  const s = await Session.create(embedSum(), { device: "cuda", warn: (m) => warnings.push(m) });
  const y = await s.run({ ids: { dtype: "int64", dims: [1, 2], data: BigInt64Array.from([1n, 4n]) } });
  assert.deepEqual(Array.from(y.y.data as Float32Array), [5, 5]);
  if (s.device === "cpu") {
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /CUDA execution provider .*running on CPU/);
  } else assert.equal(warnings.length, 0);
  await s.release();
});

test("a graph above the external-data threshold is opened by path and gives the same outputs", async () => {
  const feeds = {
    ids: { dtype: "int64" as const, dims: [2, 3], data: BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 0n]) },
  };
  const inMemory = await Session.create(embedSum(), { threads: 1 });
  const byPath = await Session.create(embedSum(), { threads: 1, externalAboveBytes: 0 });
  assert.deepEqual((await byPath.run(feeds)).y.data, (await inMemory.run(feeds)).y.data);
  await Promise.all([inMemory.release(), byPath.release()]);
});

test("weights still in their file (lazyTensor) are read once, when the session is created, either way", async () => {
  const table = Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  const feeds = {
    ids: { dtype: "int64" as const, dims: [2, 3], data: BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 0n]) },
  };
  const expected = (await (await Session.create(embedSum(), { threads: 1 })).run(feeds)).y.data;
  for (const externalAboveBytes of [undefined, 0]) {
    let reads = 0;
    const g = new Graph();
    const t = g.initializer(
      "t",
      lazyTensor("float32", [5, 2], () => (reads++, table.slice())),
    );
    const ids = g.input("ids", "int64", ["batch", "seq"]);
    g.output(o.reduceSum(o.gather(t, ids), [1]), "y");
    assert.equal(g.initializerBytes(), 40 + 8, "the table and ReduceSum's axes");
    assert.equal(reads, 0, "building the graph and counting its bytes reads nothing");
    const s = await Session.create(g, { threads: 1, externalAboveBytes });
    assert.equal(reads, 1);
    assert.deepEqual((await s.run(feeds)).y.data, expected);
    await s.release();
  }
});

test("a checkpoint's weights enter encoder graphs unread, and sessions from them match eager ones", async () => {
  const dir = mkdtempSync(join(tmpdir(), "xlir-lazy-"));
  try {
    const ck = Checkpoint.open(wordE5Dir(["river", "city", "station"], { parent: dir }));
    const g = encoderGraph(ck, { pooling: "mean", normalize: true });
    const weights = [...g.initializers.values()].filter((t) => t.dims.length === 2);
    assert.ok(weights.length > 10 && weights.every(isLazy), "every weight matrix stays in the file");
    const eager = g.clone();
    for (const [name, t] of eager.initializers)
      eager.initializers.set(name, { dtype: t.dtype, dims: t.dims, data: t.data });
    const n = 4;
    const feeds = {
      input_ids: { dtype: "int64" as const, dims: [1, n], data: BigInt64Array.from([2n, 7n, 8n, 3n]) },
      attention_mask: { dtype: "int64" as const, dims: [1, n], data: new BigInt64Array(n).fill(1n) },
      token_type_ids: { dtype: "int64" as const, dims: [1, n], data: new BigInt64Array(n) },
    };
    const [a, b] = await Promise.all([
      Session.create(g, { threads: 1, externalAboveBytes: 0 }),
      Session.create(eager, { threads: 1 }),
    ]);
    assert.deepEqual((await a.run(feeds)).embedding.data, (await b.run(feeds)).embedding.data);
    await Promise.all([a.release(), b.release()]);
    ck.close();
    assert.throws(() => weights[0].data, /after close/, "a closed checkpoint says so");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
