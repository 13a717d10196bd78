// The exact-search kernel against a double-precision brute force written here: batched queries give
// what one query at a time gives, float32 near-ties are resolved in double precision, documents
// come out as topDocs(dotAll(...)) ranks them, and the int8 scan is exact when its re-scoring depth
// covers the rows.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_SCORE } from "../../src/index/doc-score.ts";
import { topDocs } from "../../src/index/exact-search.ts";
import { Int8Scan, quantizeRows } from "../../src/index/int8-scan.ts";
import { ScanSearch, searchDocs, type TopK } from "../../src/index/scan-search.ts";

function lcg(seed: number) {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
const matrix = (n: number, d: number, seed: number) => Float32Array.from({ length: n * d }, lcg(seed));

/** Every row's dot product with q, summed in double in index order, best first (ties: lower row). */
function bruteForce(vectors: Float32Array, d: number, q: Float32Array, k: number) {
  const scores = Array.from({ length: vectors.length / d }, (_, r) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += vectors[r * d + c] * q[c];
    return { row: r, score: s };
  });
  return scores.sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
}

const rowsOf = (top: TopK, q: number) => Array.from(top.index.subarray(q * top.k, (q + 1) * top.k));

describe("ScanSearch.topK", () => {
  let scan: ScanSearch;
  let tiny: ScanSearch;
  before(async () => {
    scan = await ScanSearch.create({ threads: 1 });
    // 3 queries a pass over blocks of 10 rows: batches and blocks are under test
    tiny = await ScanSearch.create({ threads: 1, batch: 3, blockFloats: 30 });
  });
  after(async () => {
    await scan.close();
    await tiny.close();
  });

  it("returns the brute-force top k, batched and one query at a time alike", async () => {
    const d = 24;
    const vectors = matrix(500, d, 1);
    const queries = matrix(7, d, 2);
    for (const s of [scan, tiny]) {
      const batched = await s.topK(vectors, d, queries, 12);
      for (let q = 0; q < 7; q++) {
        const query = queries.subarray(q * d, (q + 1) * d);
        const want = bruteForce(vectors, d, query, 12);
        assert.deepEqual(
          rowsOf(batched, q),
          want.map((w) => w.row),
        );
        // scores close to the brute force's (its summation order differs)
        want.forEach((w, i) => assert.ok(Math.abs(batched.score[q * 12 + i] - w.score) < 1e-12));
        const one = await s.topK(vectors, d, query, 12);
        assert.deepEqual(rowsOf(one, 0), rowsOf(batched, q));
        assert.deepEqual(Array.from(one.score), Array.from(batched.score.subarray(q * 12, q * 12 + 12)));
      }
    }
  });

  it("ranks rows that tie in float32 by their double-precision scores", async () => {
    // q . a = 0.5 + 2^-30 and q . b = 0.5: equal in float32, where b (the lower row) would win the tie
    const d = 4;
    const vectors = new Float32Array(40 * d);
    vectors.set(matrix(38, d, 3).map((x) => x * 0.1));
    vectors.set([0.5, 0, 0, 0], 38 * d);
    vectors.set([0.5, 2 ** -30, 0, 0], 39 * d);
    vectors.set([0.5, 0, 0, 0], 5 * d);
    const q = Float32Array.from([1, 1, 0, 0]);
    for (const s of [scan, tiny]) {
      const top = await s.topK(vectors, d, q, 2);
      assert.deepEqual(rowsOf(top, 0), [39, 5]);
      assert.equal(top.score[0], 0.5 + 2 ** -30);
      // a caller's order for exact ties: the higher row first
      const rev = await s.topK(vectors, d, q, 2, { tieBreak: (a, b) => b - a });
      assert.deepEqual(rowsOf(rev, 0), [39, 38]);
    }
  });

  it("keeps the rows that float32 rounding drops below the cut", async () => {
    // 2000 copies of one row, each moved by ~1e-7: scores closer than float32's rounding error, so
    // the float32 top 10 misses rows of the double-precision top 10
    const d = 384;
    const r = lcg(7);
    const base = Float32Array.from({ length: d }, r);
    const vectors = Float32Array.from({ length: 2000 * d }, (_, i) => base[i % d] + 1e-7 * r());
    const q = Float32Array.from({ length: d }, r);
    const f32 = await scan.scores(vectors, d, q);
    const want = bruteForce(vectors, d, q, 10).map((w) => w.row);
    const f32Top = [...f32.keys()].sort((a, b) => f32[b] - f32[a] || a - b).slice(0, 10);
    assert.notDeepEqual(new Set(f32Top), new Set(want)); // the case under test
    assert.deepEqual(rowsOf(await scan.topK(vectors, d, q, 10), 0), want);
    assert.deepEqual(rowsOf(await tiny.topK(vectors, d, q, 10), 0), want);
  });

  it("pads with -1 past the rows and skips NaN scores", async () => {
    const vectors = Float32Array.from([1, 0, NaN, 0, 0, 1]);
    const top = await scan.topK(vectors, 2, Float32Array.from([1, 2]), 5);
    assert.equal(top.k, 3);
    assert.deepEqual(Array.from(top.index), [2, 0, -1]);
  });
});

describe("searchDocs", () => {
  it("finds the documents topDocs(dotAll) finds, under a filter and with several chunks a document", async () => {
    const scan = await ScanSearch.create({ threads: 1 });
    const d = 16;
    const chunks = 300;
    const vectors = matrix(chunks, d, 4);
    // copies of one chunk in documents 3 and 7: an exact tie between documents
    vectors.copyWithin(40 * d, 10 * d, 11 * d);
    const chunkDoc = Int32Array.from({ length: chunks }, (_, c) => (c === 299 ? -1 : (c * 7) % 60));
    chunkDoc[10] = 7;
    chunkDoc[40] = 3;
    const allowed = Uint8Array.from({ length: 60 }, (_, i) => (i % 5 === 4 ? 0 : 1));
    const queries = [...Array(4).keys()].map((i) => matrix(1, d, 10 + i));
    queries.push(vectors.slice(10 * d, 11 * d));
    for (const q of queries) {
      for (const filter of [null, allowed]) {
        for (const agg of [
          MAX_SCORE,
          { kind: "sum", top: 2 } as const,
          { kind: "sum", top: Infinity } as const,
        ]) {
          const found = await searchDocs(scan, vectors, q, chunkDoc, 60, agg, 8, filter);
          const exact = found.scores();
          assert.deepEqual(found.hits, topDocs(exact, chunkDoc, 60, agg, 8, filter));
        }
      }
    }
    await scan.close();
  });
});

describe("searchDocs near ties", () => {
  it("ranks documents whose sums differ below float32's resolution as the double scan does", async () => {
    // 400 documents of 3 chunks each, every chunk the same base vector nudged by ~1e-7: float32
    // scores cannot tell the documents apart, the double sums can
    const scan = await ScanSearch.create({ threads: 1 });
    const d = 64;
    const base = matrix(3, d, 21);
    const noise = matrix(1200, d, 22);
    const vectors = Float32Array.from(
      { length: 1200 * d },
      (_, i) => base[(((i / d) | 0) % 3) * d + (i % d)] * (1 + noise[i] * 1e-6),
    );
    const chunkDoc = Int32Array.from({ length: 1200 }, (_, c) => c % 400);
    for (let seed = 0; seed < 6; seed++) {
      const q = matrix(1, d, 30 + seed);
      for (const agg of [
        MAX_SCORE,
        { kind: "sum", top: 2 } as const,
        { kind: "sum", top: Infinity } as const,
      ])
        for (const k of [1, 5, 20]) {
          const found = await searchDocs(scan, vectors, q, chunkDoc, 400, agg, k, null);
          assert.deepEqual(
            found.hits,
            topDocs(found.scores(), chunkDoc, 400, agg, k, null),
            `seed ${seed} ${agg.kind} k ${k}`,
          );
        }
    }
    await scan.close();
  });
});

describe("Int8Scan", () => {
  it("returns the exact top k when the re-scoring depth covers every row, and exact scores always", async () => {
    const d = 32;
    const vectors = matrix(400, d, 5);
    const queries = matrix(5, d, 6);
    const q8 = quantizeRows(vectors, d);
    const i8 = await Int8Scan.create({ threads: 1, batch: 2, blockFloats: 64 });
    const scan = await ScanSearch.create({ threads: 1 });
    const exact = await scan.topK(vectors, d, queries, 10);
    const full = await i8.topK(q8, vectors, queries, 10, { depth: 400 });
    assert.deepEqual(Array.from(full.index), Array.from(exact.index));
    assert.deepEqual(Array.from(full.score), Array.from(exact.score));
    const shallow = await i8.topK(q8, vectors, queries, 10, { depth: 20 });
    for (let q = 0; q < 5; q++) {
      const want = new Map(
        bruteForce(vectors, d, queries.subarray(q * d, (q + 1) * d), 400).map((w) => [w.row, w.score]),
      );
      for (let i = 0; i < 10; i++)
        assert.ok(Math.abs(shallow.score[q * 10 + i] - want.get(shallow.index[q * 10 + i])!) < 1e-12);
    }
    await i8.close();
    await scan.close();
  });
});
