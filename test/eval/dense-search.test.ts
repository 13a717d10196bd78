// Exact dense search against a brute force written here: every query's k best documents by dot
// product, in trec_eval's order (ties: larger document id first), across query blocks.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { concatRows, DenseScorer, normalizeRows } from "../../src/eval/dense-search.ts";
import { rankDocs } from "../../src/eval/ranking.ts";

function lcg(seed: number) {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
const matrix = (n: number, d: number, seed: number) => {
  const r = lcg(seed);
  return { data: Float32Array.from({ length: n * d }, r), dims: [n, d] as [number, number] };
};

describe("DenseScorer.topK", () => {
  let scorer: DenseScorer;
  let tiny: DenseScorer;
  before(async () => {
    scorer = await DenseScorer.create({ threads: 1 });
    // 40 floats a block: 2 queries of 20 documents at a time, so blocks are under test.
    tiny = await DenseScorer.create({ threads: 1, blockFloats: 40, batch: 2 });
  });
  after(async () => {
    await scorer.close();
    await tiny.close();
  });

  it("returns each query's k best documents by dot product, best first, across blocks", async () => {
    const q = matrix(7, 5, 1);
    const docs = matrix(20, 5, 2);
    const ids = Array.from({ length: 20 }, (_, i) => `d${i}`);
    for (const s of [scorer, tiny]) {
      const top = await s.topK(q, docs, 6, ids);
      assert.equal(top.k, 6);
      for (let i = 0; i < 7; i++) {
        const scores = new Map<string, number>();
        for (let j = 0; j < 20; j++) {
          let dot = 0;
          for (let c = 0; c < 5; c++) dot += q.data[i * 5 + c] * docs.data[j * 5 + c];
          scores.set(ids[j], dot);
        }
        const want = rankDocs(scores).slice(0, 6);
        const got = Array.from(top.index.subarray(i * 6, i * 6 + 6), (j) => ids[j]);
        assert.deepEqual(got, want, `query ${i}`);
        for (let c = 0; c < 6; c++) assert.ok(Math.abs(top.score[i * 6 + c] - scores.get(got[c])!) < 1e-5);
      }
    }
  });

  it("breaks exact ties as trec_eval does (larger id first), also at the cut", async () => {
    // Four identical documents and one better one: the cut at 3 keeps d9, then the ties by id desc.
    const docs = {
      data: Float32Array.from([1, 0, 1, 0, 1, 0, 2, 0, 1, 0]),
      dims: [5, 2] as [number, number],
    };
    const ids = ["d1", "d3", "d2", "d9", "d10"];
    const top = await scorer.topK({ data: Float32Array.from([1, 0]), dims: [1, 2] }, docs, 3, ids);
    assert.deepEqual(
      Array.from(top.index, (j) => ids[j]),
      ["d9", "d3", "d2"],
    );
  });

  it("pads with -1 when k exceeds the documents, and refuses mismatched inputs", async () => {
    const top = await scorer.topK(matrix(2, 3, 3), matrix(2, 3, 4), 5, ["a", "b"]);
    assert.equal(top.k, 2);
    assert.ok(top.index.every((j) => j >= 0));
    await assert.rejects(
      scorer.topK(matrix(1, 3, 1), matrix(2, 4, 1), 1, ["a", "b"]),
      /3 dimensions but document vectors 4/,
    );
    await assert.rejects(
      scorer.topK(matrix(1, 3, 1), matrix(2, 3, 1), 1, ["a"]),
      /1 document ids for 2 document vectors/,
    );
  });
});

describe("normalizeRows and concatRows", () => {
  it("scales rows to unit length, leaves zero rows alone, and does not touch the input", () => {
    const e = { data: Float32Array.from([3, 4, 0, 0]), dims: [2, 2] as [number, number] };
    const n = normalizeRows(e);
    assert.deepEqual(Array.from(n.data), [0.6000000238418579, 0.800000011920929, 0, 0]);
    assert.deepEqual(Array.from(e.data), [3, 4, 0, 0]);
  });

  it("stacks rows in order and refuses different widths", () => {
    const a = matrix(2, 3, 1);
    const b = matrix(1, 3, 2);
    const c = concatRows([a, b]);
    assert.deepEqual(c.dims, [3, 3]);
    assert.deepEqual(Array.from(c.data.subarray(6)), Array.from(b.data));
    assert.throws(() => concatRows([a, matrix(1, 2, 1)]), /2 and 3 dimensions/);
  });
});
