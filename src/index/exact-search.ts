// Exact dense scores: the query against stored vectors, in TypeScript over one row-major
// Float32Array, accumulated in double precision (exact products, eight partial sums). This is the
// definition of a dense score everywhere (index, ANN re-scoring, evaluation); scanning a whole
// collection goes through scan-search.ts, which finds the top with a float32 GEMM and re-scores the
// candidates here, so its results equal these.
import { topK } from "./bm25-topk.ts";
import { type DocHit, type DocScore, docsFromChunks } from "./doc-score.ts";

/** q . v of the row of `vectors` starting at `base`, in double precision (eight partial sums). */
export function rowDot(vectors: Float32Array, base: number, query: Float32Array, dims: number): number {
  // eight independent partial sums the CPU can overlap; products of two floats are exact in double
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let s5 = 0;
  let s6 = 0;
  let s7 = 0;
  const tail = dims - (dims % 8);
  let j = 0;
  for (; j < tail; j += 8) {
    const b = base + j;
    s0 += query[j] * vectors[b];
    s1 += query[j + 1] * vectors[b + 1];
    s2 += query[j + 2] * vectors[b + 2];
    s3 += query[j + 3] * vectors[b + 3];
    s4 += query[j + 4] * vectors[b + 4];
    s5 += query[j + 5] * vectors[b + 5];
    s6 += query[j + 6] * vectors[b + 6];
    s7 += query[j + 7] * vectors[b + 7];
  }
  for (; j < dims; j++) s0 += query[j] * vectors[base + j];
  return s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7));
}

/**
 * q . v for every row v of `vectors` ([rows, dims] row-major), accumulated in double precision: the
 * exact score every search path agrees on (see scan-search.ts for the fast path that finds the top).
 */
export function dotAll(
  vectors: Float32Array,
  dims: number,
  query: Float32Array,
  out?: Float64Array,
): Float64Array {
  if (query.length !== dims) throw new Error(`query vector has ${query.length} dims, the collection ${dims}`);
  const rows = Math.floor(vectors.length / dims);
  const scores = out ?? new Float64Array(rows);
  for (let r = 0, base = 0; r < rows; r++, base += dims) scores[r] = rowDot(vectors, base, query, dims);
  return scores;
}

/** Rows scaled to unit length in place (zero rows stay zero). */
export function normalizeRows(vectors: Float32Array, dims: number): Float32Array {
  for (let base = 0; base < vectors.length; base += dims) {
    let s = 0;
    for (let j = 0; j < dims; j++) s += vectors[base + j] * vectors[base + j];
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dims; j++) vectors[base + j] *= inv;
  }
  return vectors;
}

/**
 * The k best documents from every chunk's score. `chunkDoc[c]` is chunk c's document (-1: none,
 * e.g. an orphan); `allowed[d]` (when given) is 1 for documents that pass the filter.
 */
export function topDocs(
  scores: Float64Array,
  chunkDoc: Int32Array,
  docCount: number,
  agg: DocScore,
  k: number,
  allowed: Uint8Array | null,
): DocHit[] {
  if (agg.kind === "sum") {
    const chunks = function* () {
      for (let c = 0; c < scores.length; c++) {
        const d = chunkDoc[c];
        if (d >= 0 && (allowed === null || allowed[d])) yield { chunk: c, score: scores[c] };
      }
    };
    return docsFromChunks(chunks(), (c) => chunkDoc[c], agg, k);
  }
  const best = new Float64Array(docCount).fill(-Infinity);
  const bestChunk = new Int32Array(docCount).fill(-1);
  for (let c = 0; c < scores.length; c++) {
    const d = chunkDoc[c];
    if (d < 0 || (allowed !== null && !allowed[d])) continue;
    if (scores[c] > best[d] || bestChunk[d] < 0) {
      best[d] = scores[c];
      bestChunk[d] = c;
    }
  }
  const candidates: number[] = [];
  for (let d = 0; d < docCount; d++) if (bestChunk[d] >= 0) candidates.push(d);
  return topK(candidates, (d) => best[d], k).map((d) => ({ doc: d, score: best[d], chunk: bestChunk[d] }));
}
