import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  addDocument,
  addDocuments,
  addTerms,
  bm25Stats,
  compactBm25,
  createBm25Index,
  deleteDocument,
  documentCount,
  hasDocument,
  searchBm25,
  searchTerms,
  type Bm25Index,
} from "../../src/index/bm25.ts";
import { byte4ToInt, intToByte4, LENGTH_TABLE, luceneLength } from "../../src/index/bm25-norms.ts";
import { bm25Params, DEFAULT_BM25 } from "../../src/index/bm25-similarity.ts";

describe("Lucene length norms (SmallFloat.intToByte4 / byte4ToInt)", () => {
  it("keeps lengths 0..40 exact and rounds longer ones down", () => {
    for (let n = 0; n <= 40; n++) assert.equal(luceneLength(n), n, `length ${n}`);
    // 41 - 24 = 17 = 0b10001 needs 5 bits; 4 are kept, so 17 -> 16 and 41 -> 40.
    assert.deepEqual(
      [41, 42, 44, 45, 46, 55, 56, 100, 1000].map(luceneLength),
      [40, 42, 44, 44, 46, 54, 56, 96, 984],
    );
    assert.deepEqual([0, 23, 24, 40, 41, 45, 100, 1000].map(intToByte4), [0, 23, 24, 40, 40, 42, 57, 87]);
    assert.equal(intToByte4(2147483647), 255);
    assert.equal(byte4ToInt(255), 2013265944); // 24 + (0b1111 << 27)
  });

  it("equals '24 + (length - 24) truncated to its 4 leading bits' for every length up to 100000", () => {
    // An independent statement of the encoding: keep the 4 most significant bits of length - 24.
    const truncated = (n: number) => {
      if (n < 24) return n;
      const m = n - 24;
      const bits = m.toString(2);
      return 24 + (bits.length <= 4 ? m : parseInt(bits.slice(0, 4) + "0".repeat(bits.length - 4), 2));
    };
    for (let n = 0; n <= 100000; n++) assert.equal(luceneLength(n), truncated(n));
  });

  it("decodes all 256 bytes increasingly and round-trips them", () => {
    for (let b = 0; b < 256; b++) {
      assert.equal(intToByte4(byte4ToInt(b)), b);
      if (b > 0) assert.ok(byte4ToInt(b) > byte4ToInt(b - 1));
      assert.equal(LENGTH_TABLE[b], Math.fround(byte4ToInt(b)));
    }
  });

  it("rejects lengths it cannot encode", () => {
    assert.throws(() => intToByte4(-1), /document length -1 cannot be encoded/);
    assert.throws(() => intToByte4(1.5), /document length 1.5 cannot be encoded/);
  });
});

// The hand-checked corpus. Documents are given as terms, so only the scoring is under test:
//   d1 apple banana apple          dl 3
//   d2 banana cherry               dl 2
//   d3 apple + 44 x filler         dl 45 -> Lucene scores it as 44 (45 - 24 = 21 = 0b10101 -> 0b10100)
//   d4 cherry cherry date          dl 3
//   d5 date                        dl 1
//   d6 apple banana cherry date elder   dl 5
// N = 6, sumTotalTermFreq = 59, avgdl = 59 / 6 = 9.833333.
// n(apple) = n(banana) = n(cherry) = 3: idf = ln(1 + (6 - 3 + 0.5) / (3 + 0.5)) = ln 2 = 0.6931472
// n(elder) = 1: idf = ln(1 + 5.5 / 1.5) = ln(4.666667) = 1.5404450
// K(dl) = k1 * (1 - b + b * dl / avgdl) = 0.9 * (0.6 + 0.4 * dl / 9.833333):
//   K(2) = 0.6132203, K(3) = 0.6498305, K(5) = 0.7230508, K(44) = 2.1508475, K(45) = 2.1874576
// score(term, doc) = idf * tf / (tf + K(dl))
function handCorpus(options: Parameters<typeof createBm25Index>[0] = {}): Bm25Index {
  const index = createBm25Index(options);
  addTerms(index, "d1", ["apple", "banana", "apple"]);
  addTerms(index, "d2", ["banana", "cherry"]);
  addTerms(index, "d3", ["apple", ...Array<string>(44).fill("filler")]);
  addTerms(index, "d4", ["cherry", "cherry", "date"]);
  addTerms(index, "d5", ["date"]);
  addTerms(index, "d6", ["apple", "banana", "cherry", "date", "elder"]);
  return index;
}

const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} vs ${expected}`);

// What Lucene 8.7.0 returned for the same corpus and queries (BM25Similarity(0.9f, 0.4f), terms
// indexed through WhitespaceAnalyzer, one SHOULD TermQuery per query token), as Java prints floats.
// Math.fround of the printed decimal is the exact float, so these compare bit for bit.
const LUCENE: Record<string, [string, number][]> = {
  "apple banana": [
    ["d1", 0.9432958],
    ["d6", 0.804558],
    ["d2", 0.4296668],
    ["d3", 0.21998754],
  ],
  elder: [["d6", 0.8940218]],
  "apple apple": [
    ["d1", 1.0463269],
    ["d6", 0.804558],
    ["d3", 0.43997508],
  ],
  cherry: [
    ["d4", 0.52316344],
    ["d2", 0.4296668],
    ["d6", 0.402279],
  ],
  "apple apple banana elder": [
    ["d6", 2.1008587],
    ["d1", 1.4664593],
    ["d3", 0.43997508],
    ["d2", 0.4296668],
  ],
};

describe("BM25 scoring (Lucene BM25Similarity, k1 0.9, b 0.4)", () => {
  it("matches the hand computation", () => {
    const index = handCorpus();
    assert.deepEqual(bm25Stats(index), {
      documents: 6,
      docCount: 6,
      sumTotalTermFreq: 59,
      avgdl: Math.fround(59 / 6),
      terms: 6,
    });
    const hits = searchTerms(index, ["apple", "banana"]);
    assert.deepEqual(
      hits.map((h) => h.id),
      ["d1", "d6", "d2", "d3"],
    );
    const score = Object.fromEntries(hits.map((h) => [h.id, h.score]));
    // d1: ln2 * 2 / (2 + 0.6498305) + ln2 * 1 / (1 + 0.6498305) = 0.5231634 + 0.4201324 = 0.9432958
    near(score.d1, 0.9432958, "d1");
    // d6: 2 * ln2 * 1 / (1 + 0.7230508) = 2 * 0.4022790 = 0.8045580
    near(score.d6, 0.804558, "d6");
    // d2: ln2 * 1 / (1 + 0.6132203) = 0.4296668
    near(score.d2, 0.4296668, "d2");
    // d3 with Lucene's length 44: ln2 * 1 / (1 + 2.1508475) = 0.2199875 (with 45 it would be 0.2174608)
    near(score.d3, 0.2199875, "d3");
    // elder, d6: 1.5404450 * 1 / (1 + 0.7230508) = 0.8940218
    near(searchTerms(index, ["elder"])[0].score, 0.8940218, "elder");
  });

  it("counts a repeated query term once per occurrence", () => {
    const index = handCorpus();
    // "apple apple" = boost 2 on apple: d1 = 2 * ln2 * 2 / (2 + 0.6498305) = 1.0463268
    const [top] = searchTerms(index, ["apple", "apple"]);
    near(top.score, 1.0463268, "apple apple");
    near(searchBm25(index, "apple apple")[0].score, top.score, "analysed query");
  });

  it("equals Lucene's scores bit for bit, ties and order included", () => {
    const index = handCorpus();
    for (const [query, expected] of Object.entries(LUCENE)) {
      const hits = searchTerms(index, query.split(" "), { k: 100 });
      assert.deepEqual(
        hits.map((h) => [h.id, h.score]),
        expected.map(([id, s]) => [id, Math.fround(s)]),
        query,
      );
    }
  });

  it("scores with exact lengths when asked", () => {
    const index = handCorpus({ bm25: { lengths: "exact" } });
    const d3 = searchTerms(index, ["apple"]).find((h) => h.id === "d3")!;
    // ln2 * 1 / (1 + 2.1874576) = 0.2174608
    near(d3.score, 0.2174608, "d3 exact");
    // Lengths up to 40 are exact in Lucene too, so the other documents do not move.
    const lucene = searchTerms(handCorpus(), ["apple"]);
    near(searchTerms(index, ["apple"])[0].score, lucene[0].score, "d1");
  });

  it("leaves documents without terms out of N and avgdl", () => {
    const index = handCorpus();
    addTerms(index, "empty", []);
    addDocument(index, { id: "stopwords-only", text: "the and of", lang: "en" });
    assert.equal(documentCount(index), 8);
    assert.equal(bm25Stats(index).docCount, 6);
    assert.deepEqual(searchTerms(index, ["apple", "banana"]), searchTerms(handCorpus(), ["apple", "banana"]));
  });

  it("uses the given k1 and b", () => {
    const index = handCorpus({ bm25: { k1: 1.2, b: 0.75 } });
    // d5 (dl 1), "date", n = 3: K = 1.2 * (0.25 + 0.75 * 1 / 9.833333) = 0.3915254;
    // ln2 * 1 / (1 + 0.3915254) = 0.4981204
    const d5 = searchTerms(index, ["date"]).find((h) => h.id === "d5")!;
    near(d5.score, 0.4981204, "d5");
  });

  it("returns scores that are float32 values and ranks equal scores by arrival", () => {
    const index = createBm25Index();
    for (const id of ["b", "a", "c"]) addTerms(index, id, ["same", "words"]);
    addTerms(index, "other", ["unrelated"]);
    const hits = searchTerms(index, ["same"]);
    assert.deepEqual(
      hits.map((h) => h.id),
      ["b", "a", "c"],
    );
    for (const h of hits) assert.equal(h.score, Math.fround(h.score));
    // Updating "b" re-adds it at the end, as Lucene's updateDocument does.
    addTerms(index, "b", ["same", "words"]);
    assert.deepEqual(
      searchTerms(index, ["same"]).map((h) => h.id),
      ["a", "c", "b"],
    );
  });
});

describe("BM25 top-k and filters", () => {
  it("cuts to k", () => {
    const index = handCorpus();
    assert.deepEqual(
      searchTerms(index, ["apple", "banana"], { k: 2 }).map((h) => h.id),
      ["d1", "d6"],
    );
    assert.deepEqual(searchTerms(index, ["nothing"]), []);
    assert.deepEqual(searchTerms(index, []), []);
    assert.deepEqual(searchTerms(createBm25Index(), ["apple"]), []);
  });

  it("filters by a set of ids or a predicate without changing scores", () => {
    const index = handCorpus();
    const all = searchTerms(index, ["apple", "banana"], { k: 10 });
    const bySet = searchTerms(index, ["apple", "banana"], { filter: new Set(["d2", "d3", "nope"]) });
    assert.deepEqual(
      bySet,
      all.filter((h) => h.id === "d2" || h.id === "d3"),
    );
    const byFn = searchTerms(index, ["apple", "banana"], { k: 1, filter: (id) => id !== "d1" });
    assert.deepEqual(byFn, [all[1]]);
  });

  it("rejects a bad k or filter with a clear message", () => {
    const index = handCorpus();
    assert.throws(() => searchTerms(index, ["apple"], { k: 0 }), /k must be a positive integer, got 0/);
    assert.throws(() => searchTerms(index, ["apple"], { k: 2.5 }), /k must be a positive integer/);
    assert.throws(
      () => searchTerms(index, ["apple"], { filter: ["d1"] as unknown as Set<string> }),
      /filter must be a Set of allowed ids or a function/,
    );
  });
});

describe("BM25 updates and deletes", () => {
  it("scores after deletes exactly as a fresh index of the remaining documents", () => {
    const index = handCorpus();
    assert.equal(deleteDocument(index, "d6"), true);
    assert.equal(deleteDocument(index, "d6"), false);
    assert.equal(hasDocument(index, "d6"), false);
    const fresh = createBm25Index();
    addTerms(fresh, "d1", ["apple", "banana", "apple"]);
    addTerms(fresh, "d2", ["banana", "cherry"]);
    addTerms(fresh, "d3", ["apple", ...Array<string>(44).fill("filler")]);
    addTerms(fresh, "d4", ["cherry", "cherry", "date"]);
    addTerms(fresh, "d5", ["date"]);
    for (const q of [["apple", "banana"], ["cherry"], ["elder"], ["date", "date", "filler"]]) {
      assert.deepEqual(searchTerms(index, q), searchTerms(fresh, q), q.join(" "));
    }
    assert.deepEqual(bm25Stats(index), bm25Stats(fresh));
    // Without d6: N = 5, avgdl = 54 / 5 = 10.8, n(apple) = n(banana) = 2, so
    // idf = ln(1 + (5 - 2 + 0.5) / (2 + 0.5)) = ln 2.4 = 0.8754687 and K(3) = 0.9 * (0.6 + 0.4 * 3 / 10.8) = 0.64;
    // d1 = 0.8754687 * (2 / 2.64 + 1 / 1.64) = 0.8754687 * 1.3673319 = 1.1970563
    near(searchTerms(index, ["apple", "banana"])[0].score, 1.1970563, "d1 after delete");
  });

  it("replaces a document re-added under the same id", () => {
    const index = handCorpus();
    addTerms(index, "d5", ["elder", "elder"]);
    assert.equal(documentCount(index), 6);
    assert.equal(bm25Stats(index).sumTotalTermFreq, 60);
    assert.deepEqual(
      searchTerms(index, ["date"]).map((h) => h.id),
      ["d4", "d6"],
    );
    assert.equal(searchTerms(index, ["elder"])[0].id, "d5");
  });

  it("keeps results through compaction", () => {
    const index = handCorpus();
    deleteDocument(index, "d2");
    addTerms(index, "d1", ["banana"]);
    const before = searchTerms(index, ["apple", "banana", "cherry"]);
    compactBm25(index);
    assert.equal(index.deleted, 0);
    assert.equal(index.ids.length, 5);
    assert.deepEqual(searchTerms(index, ["apple", "banana", "cherry"]), before);
  });

  it("compacts by itself when tombstones outnumber live documents", () => {
    const index = createBm25Index();
    for (let i = 0; i < 3000; i++) addTerms(index, `d${i}`, ["w", `u${i}`]);
    for (let i = 0; i < 2000; i++) deleteDocument(index, `d${i}`);
    assert.ok(index.ids.length < 3000 && index.deleted < 1100, `${index.ids.length} ${index.deleted}`);
    assert.equal(searchTerms(index, ["w"], { k: 1 })[0].id, "d2000");
    assert.equal(bm25Stats(index).docCount, 1000);
  });

  it("analyses documents in their own language", () => {
    const index = createBm25Index();
    addDocuments(index, [
      { id: "en", text: "The cats were running home", lang: "en" },
      { id: "ru", text: "Кошки бежали домой", lang: "ru" },
      { id: "raw", text: "running cats" },
    ]);
    assert.deepEqual(
      searchBm25(index, "cat runs", { lang: "eng_Latn" }).map((h) => h.id),
      ["en"],
    );
    assert.deepEqual(
      searchBm25(index, "кошка", { lang: "rus_Cyrl" }).map((h) => h.id),
      ["ru"],
    );
    assert.deepEqual(
      searchBm25(index, "running").map((h) => h.id),
      ["raw"],
    );
  });

  it("rejects bad documents and parameters with clear messages", () => {
    const index = createBm25Index();
    assert.throws(
      () => addDocument(index, { id: "", text: "x" }),
      /document id must be a non-empty string, got ""/,
    );
    assert.throws(() => addDocument(index, { id: "a" } as never), /document "a" has no text/);
    assert.throws(() => addDocument(index, { id: "a", text: "x", lang: "zz" }), /unknown language code "zz"/);
    assert.throws(() => addTerms(index, "a", ["ok", ""]), /empty or non-string term ""/);
    assert.throws(() => searchBm25(index, 42 as unknown as string), /query must be a string/);
    assert.throws(() => createBm25Index({ bm25: { k1: -1 } }), /illegal k1 -1/);
    assert.throws(() => createBm25Index({ bm25: { b: 1.5 } }), /illegal b 1.5/);
    assert.throws(
      () => createBm25Index({ bm25: { lengths: "approx" as never } }),
      /lengths must be "lucene" or "exact"/,
    );
    assert.equal(documentCount(index), 0);
  });

  it("holds Pyserini's defaults as Java floats", () => {
    assert.deepEqual(bm25Params(), { k1: Math.fround(0.9), b: Math.fround(0.4), lengths: "lucene" });
    assert.equal(DEFAULT_BM25.k1, 0.9);
  });
});
