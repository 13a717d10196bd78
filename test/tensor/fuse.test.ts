// The inference-only attention fusion (tensor/fuse.ts): encoder graphs of both families come out
// with ONNX Runtime's MultiHeadAttention in place of the softmax pattern, and compute what the
// unfused graph computes — in float32 and with int8 linear layers, on padded batches (right and
// left padding, and a row with no real token); training graphs are never fused, and a pattern whose
// intermediates are read elsewhere is left alone.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Checkpoint, params, tensorSource } from "../../src/models/checkpoint.ts";
import { encoderGraph } from "../../src/models/encoder-graph.ts";
import { type AttentionNames, selfAttention } from "../../src/models/layers.ts";
import { contribOps, fuseForInference } from "../../src/tensor/fuse.ts";
import { Graph, type TensorData } from "../../src/tensor/graph.ts";
import * as o from "../../src/tensor/ops.ts";
import { quantizeLinears } from "../../src/tensor/quantize.ts";
import { Session } from "../../src/tensor/session.ts";
import { Rng } from "../../src/models/random.ts";
import { tinyBertDir, tinyNllbDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-fuse-"));
after(() => rmSync(root, { recursive: true, force: true }));

const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;

/** A batch of 4 x 7: full, right-padded, left-padded, and all padding (ids of padding = pad). */
function batch(vocab: number, pad: number, tokenTypes: boolean): Record<string, TensorData> {
  const rng = new Rng(7);
  const [b, s] = [4, 7];
  const real = (r: number, t: number) => r === 0 || (r === 1 && t < 3) || (r === 2 && t >= 4);
  const ids = new BigInt64Array(b * s);
  const mask = new BigInt64Array(b * s);
  for (let r = 0; r < b; r++)
    for (let t = 0; t < s; t++) {
      const on = real(r, t);
      mask[r * s + t] = on ? 1n : 0n;
      ids[r * s + t] = BigInt(on ? 4 + Math.floor(rng.next() * (vocab - 4)) : pad);
    }
  const feeds: Record<string, TensorData> = {
    input_ids: { dtype: "int64", dims: [b, s], data: ids },
    attention_mask: { dtype: "int64", dims: [b, s], data: mask },
  };
  if (tokenTypes) feeds.token_type_ids = { dtype: "int64", dims: [b, s], data: new BigInt64Array(b * s) };
  return feeds;
}

async function outputs(g: Graph, feeds: Record<string, TensorData>) {
  const s = await Session.create(g, { threads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

function maxDiff(a: TensorData, b: TensorData): number {
  assert.deepEqual(a.dims, b.dims);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

for (const [family, dir] of [
  ["bert", () => tinyBertDir({ parent: root, layers: 3 })],
  ["m2m100", () => tinyNllbDir({ parent: root, layers: 3 })],
] as const)
  test(`${family}: inference graphs use MultiHeadAttention and match the unfused graph (float32, int8)`, async () => {
    const ck = Checkpoint.open(dir());
    const opts = { pooling: "mean", normalize: true } as const;
    const fused = encoderGraph(ck, opts);
    const plain = encoderGraph(ck, { ...opts, fuse: false });
    assert.deepEqual([...contribOps(fused)], ["MultiHeadAttention"]);
    assert.equal(count(fused, "MultiHeadAttention"), ck.config.layers);
    assert.equal(count(fused, "Softmax"), 0);
    assert.equal(contribOps(plain).size, 0);
    assert.equal(count(plain, "Softmax"), ck.config.layers);
    assert.ok(fused.nodes.length < plain.nodes.length - 10 * ck.config.layers);
    const feeds = batch(ck.config.vocabSize, ck.config.padTokenId ?? 0, family === "bert");
    const [a, b] = [await outputs(plain, feeds), await outputs(fused, feeds)];
    for (const name of ["last_hidden_state", "embedding"])
      assert.ok(maxDiff(a[name], b[name]) < 1e-5, `${name} differs by ${maxDiff(a[name], b[name])}`);
    // the projections stay MatMuls, so int8 quantizes them as before
    const [qa, qb] = [
      quantizeLinears(plain, { storage: "int8" }),
      quantizeLinears(fused, { storage: "int8" }),
    ];
    assert.equal(count(qb, "MatMulInteger"), count(qa, "MatMulInteger"));
    const [ia, ib] = [await outputs(qa, feeds), await outputs(qb, feeds)];
    assert.ok(maxDiff(ia.embedding, ib.embedding) < 1e-5);
    ck.close();
  });

test("training graphs are never fused; fuse with train is refused", () => {
  const ck = Checkpoint.open(tinyBertDir({ parent: root }));
  const train = { trainable: () => true, trainableData: new Map<string, Float32Array>() };
  const g = encoderGraph(ck, { pooling: "mean", normalize: false, train });
  assert.equal(contribOps(g).size, 0);
  assert.equal(count(g, "Softmax"), ck.config.layers);
  assert.throws(
    () => encoderGraph(ck, { pooling: "mean", normalize: false, train, fuse: true }),
    /training graph cannot be fused/,
  );
  ck.close();
});

test("an attention whose probabilities are read elsewhere is left as it is", async () => {
  const d = 8;
  const rng = new Rng(3);
  const names: AttentionNames = { q: "q", k: "k", v: "v", out: "o" };
  const weights = new Map<string, { data: Float32Array; dims: number[] }>();
  for (const n of Object.values(names)) {
    weights.set(`${n}.weight`, {
      dims: [d, d],
      data: Float32Array.from({ length: d * d }, () => rng.normal() / Math.sqrt(d)),
    });
    weights.set(`${n}.bias`, { dims: [d], data: Float32Array.from({ length: d }, () => rng.normal()) });
  }
  const build = (probsOut: boolean) => {
    const g = new Graph("att");
    const p = params(tensorSource(weights, "test weights"), g);
    const x = g.input("x", "float32", ["batch", "seq", d]);
    const mask = g.input("mask", "int64", ["batch", "seq"]);
    g.output(selfAttention(p, names, x, o.attentionBias(mask, "float32"), d, 2), "y");
    if (probsOut) g.output(g.value(g.nodes.find((n) => n.op === "Softmax")!.outputs[0]), "probs");
    return g;
  };
  const kept = fuseForInference(build(true));
  assert.equal(contribOps(kept).size, 0);
  assert.equal(count(kept, "Softmax"), 1);
  const fused = fuseForInference(build(false));
  assert.deepEqual([...contribOps(fused)], ["MultiHeadAttention"]);
  const feeds: Record<string, TensorData> = {
    x: { dtype: "float32", dims: [2, 5, d], data: Float32Array.from({ length: 80 }, () => rng.normal()) },
    mask: { dtype: "int64", dims: [2, 5], data: BigInt64Array.from([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], BigInt) },
  };
  const [a, b] = [await outputs(build(false), feeds), await outputs(fused, feeds)];
  assert.ok(maxDiff(a.y, b.y) < 1e-5);
  assert.ok(maxDiff(a.y, (await outputs(kept, feeds)).y) < 1e-6);
});
