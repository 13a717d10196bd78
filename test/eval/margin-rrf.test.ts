// xSIM's margin scoring and reciprocal rank fusion, against values computed by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TopK } from "../../src/eval/dense-search.ts";
import { marginScores, neighbourMeans } from "../../src/eval/margin.ts";
import { rrf } from "../../src/eval/rrf.ts";

const topk = (rows: [number, number][][]): TopK => ({
  n: rows.length,
  k: rows[0].length,
  index: Int32Array.from(rows.flat().map(([j]) => j)),
  score: Float64Array.from(rows.flat().map(([, s]) => s)),
});

describe("xSIM margin", () => {
  // x0's nearest by cosine is y1 (0.9), but y1 is a hub: close to every x. Its own neighbourhood
  // mean is high, so the ratio margin prefers y0, x0's translation.
  const fwd = topk([
    [
      [1, 0.9],
      [0, 0.8],
    ],
    [
      [1, 0.85],
      [0, 0.2],
    ],
  ]);
  const bwd = topk([
    [
      [0, 0.8],
      [1, 0.2],
    ],
    [
      [0, 0.9],
      [1, 0.85],
    ],
  ]);

  it("averages each sentence's k nearest cosines", () => {
    const near = (got: Float64Array, want: number[]) =>
      want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-12, `${got[i]} vs ${w}`));
    near(neighbourMeans(fwd), [0.85, 0.525]);
    near(neighbourMeans(bwd), [0.5, 0.875]);
  });

  it("ratio: cos / ((avg_x + avg_y) / 2), rows re-sorted by the margin", () => {
    const m = marginScores(fwd, bwd, "ratio");
    // x0: y1 0.9 / ((0.85 + 0.875) / 2) = 1.04348; y0 0.8 / ((0.85 + 0.5) / 2) = 1.18519 -> y0 first
    assert.deepEqual(Array.from(m.index.subarray(0, 2)), [0, 1]);
    assert.ok(Math.abs(m.score[0] - 0.8 / 0.675) < 1e-12);
    assert.ok(Math.abs(m.score[1] - 0.9 / 0.8625) < 1e-12);
    // x1: y1 0.85 / ((0.525 + 0.875) / 2) = 1.2143; y0 0.2 / 0.5125 = 0.39 -> y1 stays first
    assert.deepEqual(Array.from(m.index.subarray(2, 4)), [1, 0]);
  });

  it("distance: cos - (avg_x + avg_y) / 2", () => {
    const m = marginScores(fwd, bwd, "distance");
    assert.ok(Math.abs(m.score[0] - (0.8 - 0.675)) < 1e-12);
    assert.deepEqual(Array.from(m.index.subarray(0, 2)), [0, 1]);
  });
});

describe("reciprocal rank fusion", () => {
  it("sums 1 / (k + rank) over the rankings, ranks in trec_eval's order", () => {
    const a = new Map([
      ["x", 3],
      ["y", 2],
      ["z", 2], // ties with y: z ranks first (larger id), so z is rank 2, y rank 3
    ]);
    const b = new Map([
      ["y", 10],
      ["w", 5],
    ]);
    const f = rrf([a, b], 60);
    assert.equal(f.get("x"), 1 / 61);
    assert.equal(f.get("z"), 1 / 62);
    assert.equal(f.get("y"), 1 / 63 + 1 / 61);
    assert.equal(f.get("w"), 1 / 62);
    assert.deepEqual([...rrf([a, b], 60, 2).keys()].sort(), ["x", "y"]);
  });
});
