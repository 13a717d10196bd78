import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { compareIds, judge, NOT_JUDGED, POOL_UNJUDGED, rankDocs } from "../../src/eval/ranking.ts";

const scores = (o: Record<string, number>) => new Map(Object.entries(o));

describe("trec_eval's rank order", () => {
  it("sorts by score descending", () => {
    assert.deepEqual(rankDocs(scores({ a: 1, b: 3, c: 2 })), ["b", "c", "a"]);
  });

  it("breaks score ties by document id DESCENDING (form_res_rels.c comp_sim_docno)", () => {
    assert.deepEqual(rankDocs(scores({ a: 1, c: 1, b: 1, z: 0.5, y: 2 })), ["y", "c", "b", "a", "z"]);
  });

  it("compares ids as strings, byte by byte, not as numbers: '9' > '10'", () => {
    assert.deepEqual(rankDocs(scores({ "10": 1, "9": 1, "100": 1 })), ["9", "100", "10"]);
  });

  it("orders ids by code point (strcmp on UTF-8), not by UTF-16 unit", () => {
    // U+1F600 is the surrogate pair D83D DE00, below U+FFFD in UTF-16 units but above it in UTF-8.
    assert.ok("\u{1F600}" < "\uFFFD");
    assert.ok(compareIds("\u{1F600}", "\uFFFD") > 0);
    assert.ok(compareIds("a", "ab") < 0);
    assert.equal(compareIds("x", "x"), 0);
    assert.deepEqual(rankDocs(scores({ "\uFFFD": 1, "\u{1F600}": 1 })), ["\u{1F600}", "\uFFFD"]);
  });

  it("handles infinite scores without NaN comparisons", () => {
    assert.deepEqual(rankDocs(scores({ a: Infinity, b: Infinity, c: -Infinity, d: 0 })), [
      "b",
      "a",
      "d",
      "c",
    ]);
  });
});

describe("judge", () => {
  const qrels = scores({ a: 2, b: 0, c: 1, p: -1, q: 3 });

  it("maps each ranked document to its judgment, or NOT_JUDGED / POOL_UNJUDGED", () => {
    const j = judge(scores({ a: 5, b: 4, x: 3, p: 2, c: 1 }), qrels);
    assert.deepEqual([...j.rels], [2, 0, NOT_JUDGED, POOL_UNJUDGED, 1]);
  });

  it("counts every judged document per value, retrieved or not; negative values are not counted", () => {
    const j = judge(scores({ a: 1 }), qrels);
    // values 0: b; 1: c; 2: a; 3: q.
    assert.deepEqual(j.counts, [1, 1, 1, 1]);
  });

  it("keeps only the first maxDocs of the sorted ranking (-M), not of the file order", () => {
    const j = judge(scores({ c: 1, a: 3, b: 2 }), qrels, 2);
    assert.deepEqual([...j.rels], [2, 0]);
    assert.deepEqual(j.counts, [1, 1, 1, 1]);
  });

  it("an empty ranking (a query absent from the run) has no rels but keeps its counts", () => {
    const j = judge(new Map(), qrels);
    assert.equal(j.rels.length, 0);
    assert.deepEqual(j.counts, [1, 1, 1, 1]);
  });
});
