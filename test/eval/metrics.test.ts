import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  averagePrecision,
  bpref,
  dcg,
  idealDcg,
  interpolatedPrecision,
  logAveragePrecision,
  MIN_GEO_MEAN,
  ndcg,
  numRel,
  numRet,
  precision,
  recall,
  recipRank,
  relRet,
  rPrecision,
} from "../../src/eval/metrics.ts";
import { judge } from "../../src/eval/ranking.ts";

// Every expected value below is worked out by hand in the comment beside it; `near` only absorbs
// float64 rounding (the same operations in a different order).
const near = (got: number, want: number, what = "") =>
  assert.ok(Math.abs(got - want) <= 1e-12, `${what}: ${got} != ${want}`);
const map = (o: Record<string, number>) => new Map(Object.entries(o));
// A run given best first: scores n, n-1, ..., 1, so rank order is the listed order.
const ranked = (ids: string[]) => map(Object.fromEntries(ids.map((d, i) => [d, ids.length - i])));
const L3 = Math.log2(3); // discount at rank 2; rank 1 is log2(2) = 1, rank 3 is log2(4) = 2

describe("pytrec_eval's cases", () => {
  it("one relevant document at rank 2: nDCG = 1/log2(3) = 0.6309", () => {
    const j = judge(ranked(["d1", "d2"]), map({ d2: 1 }));
    near(ndcg(j), 1 / L3);
    assert.equal(ndcg(j).toFixed(4), "0.6309");
    near(ndcg(j, 1), 0, "ndcg_cut.1: nothing relevant in the top 1");
    near(ndcg(j, 2), 1 / L3);
  });

  it("its README example: q1 map 1/3 ndcg 0.5; q2 map 0.5833 ndcg 0.6934", () => {
    const qrels = { q1: map({ d1: 0, d2: 1, d3: 0 }), q2: map({ d2: 1, d3: 1 }) };
    // q1 ranks d3 (1.5), d1 (1.0), d2 (0.0): the one relevant doc at rank 3.
    const q1 = judge(map({ d1: 1.0, d2: 0.0, d3: 1.5 }), qrels.q1);
    near(averagePrecision(q1), 1 / 3); // (1/3) / 1
    near(ndcg(q1), 0.5); // (1/log2(4)) / 1
    // q2 ranks d1 (1.5), d3 (0.5), d2 (0.2): relevant at ranks 2 and 3.
    const q2 = judge(map({ d1: 1.5, d2: 0.2, d3: 0.5 }), qrels.q2);
    near(averagePrecision(q2), (1 / 2 + 2 / 3) / 2); // 0.58333
    near(ndcg(q2), (1 / L3 + 1 / 2) / (1 + 1 / L3)); // 1.13093 / 1.63093 = 0.69343
    assert.equal(ndcg(q2).toFixed(4), "0.6934");
  });
});

describe("graded relevance, unjudged documents, the relevance level", () => {
  // qrels a:2 b:1 c:0 d:2 (d never retrieved); the run ranks a, b, c, then e which is unjudged.
  const j = judge(ranked(["a", "b", "c", "e"]), map({ a: 2, b: 1, c: 0, d: 2 }));

  it("DCG uses the qrels value as the gain (not 2^rel - 1) over log2(rank + 1)", () => {
    near(dcg(j), 2 / 1 + 1 / L3); // a at rank 1, b at rank 2; c (0) and e (unjudged) add 0
  });

  it("ideal DCG comes from ALL judged documents, retrieved or not, best first", () => {
    near(idealDcg(j), 2 / 1 + 2 / L3 + 1 / 2); // a, d (2 each), then b (1)
    near(idealDcg(j, 2), 2 + 2 / L3);
  });

  it("ndcg and ndcg_cut", () => {
    near(ndcg(j), (2 + 1 / L3) / (2 + 2 / L3 + 0.5)); // 2.63093 / 3.76186 = 0.69937
    near(ndcg(j, 2), (2 + 1 / L3) / (2 + 2 / L3)); // 2.63093 / 3.26186 = 0.80657
    near(ndcg(j, 1), 2 / 2); // a is as good as the best possible first document
  });

  it("binary measures at level 1: a, b, d relevant (R = 3); unjudged e counts as non-relevant", () => {
    assert.equal(numRet(j), 4);
    assert.equal(numRel(j), 3);
    assert.equal(relRet(j), 2);
    near(averagePrecision(j), (1 / 1 + 2 / 2) / 3); // d never retrieved: its precision counts 0
    near(precision(j, 2), 2 / 2);
    near(recall(j, 2), 2 / 3);
    near(recipRank(j), 1);
    near(rPrecision(j), 2 / 3); // top R = 3: a, b relevant
  });

  it("binary measures at level 2 (-l 2): only a and d are relevant; ndcg does not change", () => {
    assert.equal(numRel(j, 2), 2);
    near(averagePrecision(j, 2), 1 / 1 / 2); // a at rank 1; d missing
    near(precision(j, 2, 2), 1 / 2);
    near(recall(j, 10, 2), 1 / 2);
    near(rPrecision(j, 2), 1 / 2); // top 2: a yes, b no
    near(ndcg(j), (2 + 1 / L3) / (2 + 2 / L3 + 0.5), "ndcg ignores the level, as in trec_eval");
  });

  it("bpref counts judged documents only", () => {
    // level 1: R = 3, judged non-relevant = {c} (1). a: no non-rel above, +1; b: +1; c non-rel;
    // e unjudged, skipped. (1 + 1) / 3.
    near(bpref(j), 2 / 3);
    // level 2: R = 2, judged non-relevant = {b, c}. a: +1; b, c non-relevant. 1 / 2.
    near(bpref(j, 2), 1 / 2);
    // A relevant document below a judged non-relevant one: rank z (0), y (1); R = 1, nonrel = 1:
    // y gets 1 - min(1, 1) / min(1, 1) = 0.
    near(bpref(judge(ranked(["z", "y"]), map({ z: 0, y: 1 }))), 0);
  });
});

describe("edge cases", () => {
  it("a query whose judgments are all non-relevant scores 0 on every measure", () => {
    const j = judge(ranked(["a", "b"]), map({ a: 0, b: 0 }));
    for (const [name, v] of Object.entries({
      ndcg: ndcg(j),
      ndcg_cut_10: ndcg(j, 10),
      map: averagePrecision(j),
      map_cut_10: averagePrecision(j, 1, 10),
      P_5: precision(j, 5),
      recall_5: recall(j, 5),
      recip_rank: recipRank(j),
      Rprec: rPrecision(j),
      bpref: bpref(j),
    }))
      assert.equal(v, 0, name);
    assert.deepEqual(interpolatedPrecision(j, [0, 0.5, 1]), [0, 0, 0]);
    near(logAveragePrecision(j), Math.log(MIN_GEO_MEAN)); // gm_map floors AP at 0.00001
  });

  it("k larger than the run: P divides by k, the others see the whole ranking", () => {
    const j = judge(ranked(["a", "x"]), map({ a: 1 }));
    near(precision(j, 10), 1 / 10); // missing ranks 3..10 count as non-relevant
    near(recall(j, 100), 1);
    near(ndcg(j, 100), 1);
    near(averagePrecision(j, 1, 100), 1);
    near(recipRank(j, 1, 100), 1);
  });

  it("an empty ranking (-M 0) scores 0, except iprec_at_recall's 0/0 that trec_eval prints -nan", () => {
    const j = judge(new Map(), map({ a: 1, b: 2 }));
    assert.deepEqual(
      [ndcg(j), averagePrecision(j), precision(j, 5), recall(j, 5), recipRank(j), rPrecision(j), bpref(j)],
      [0, 0, 0, 0, 0, 0, 0],
    );
    // 0.0 needs lround(0 * 2) = 0 relevant documents: reachable, so it gets 0/0 retrieved; 1.0 needs 2.
    assert.deepEqual(interpolatedPrecision(j, [0, 1]), [NaN, 0]);
    assert.equal(numRel(j), 2);
  });

  it("recip_rank and MRR@k (the ranking cut at k)", () => {
    const j = judge(ranked(["x", "y", "a", "b"]), map({ a: 1, b: 1 }));
    near(recipRank(j), 1 / 3);
    near(recipRank(j, 1, 2), 0); // cut at 2: nothing relevant
    near(recipRank(j, 1, 3), 1 / 3);
  });

  it("map_cut.k sums precisions in the top k but divides by all relevant documents", () => {
    // relevant a (rank 1), b (rank 3), c (never retrieved): R = 3.
    const j = judge(ranked(["a", "x", "b"]), map({ a: 1, b: 1, c: 1 }));
    near(averagePrecision(j, 1, 2), 1 / 3); // (1/1) / 3
    near(averagePrecision(j), (1 + 2 / 3) / 3); // (1/1 + 2/3) / 3
  });
});

describe("iprec_at_recall", () => {
  const points = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

  it("interpolates: the best precision at or below each recall level", () => {
    // R = 2: a at rank 1 (P 1/1), b at rank 4 (P 2/4). Since trec_eval 10.0 a recall fraction p
    // needs lround(p * 2) documents: 0 for 0.0, 0.1, 0.2; 1 for 0.3..0.7 (0.25 would round up);
    // 2 for 0.8..1.0. (9.x's trunc(p * 2 + 0.9) gave 1 for 0.1..0.5 and 2 from 0.6.)
    const j = judge(ranked(["a", "x", "y", "b"]), map({ a: 1, b: 1 }));
    assert.deepEqual(interpolatedPrecision(j, points), [1, 1, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5]);
  });

  it("a later, better precision lifts earlier recall levels", () => {
    // R = 2: a at rank 3 (P 1/3), b at rank 4 (P 2/4 = 0.5): interpolation gives 0.5 everywhere.
    const j = judge(ranked(["x", "y", "a", "b"]), map({ a: 1, b: 1 }));
    assert.deepEqual(interpolatedPrecision(j, [0, 0.5, 1]), [0.5, 0.5, 0.5]);
  });

  it("recall levels never reached are 0", () => {
    // R = 3, only a retrieved (rank 2): 1.0 needs lround(3) = 3 relevant retrieved.
    const j = judge(ranked(["x", "a"]), map({ a: 1, b: 1, c: 1 }));
    assert.deepEqual(interpolatedPrecision(j, [0, 0.3, 1]), [0.5, 0.5, 0]);
  });
});
