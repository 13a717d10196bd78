// Exact search over every stored vector, at memory speed: the one kernel behind the index's exact
// dense search (search.ts) and evaluation's dense scorer (eval/dense-search.ts).
//
// Scores are found with ONNX Runtime's float32 MatMul (vectors [rows, d] x queries^T [d, n]): MLAS
// streams the vectors once per batch of queries with AVX-512/FMA kernels on every core. At 1M x 384
// on 2 cores (bench/search.bench.ts) one query takes 86 ms, 18 GB/s, 93% of the read bandwidth a
// plain sum measures, where the TypeScript double loop (exact-search.ts dotAll) took 910 ms; worker
// threads were not needed, ONNX Runtime already uses every core. The vectors are a block of rows at
// a time, so the [rows, n] float32 score block stays small and the top-k selection reads it while
// it is still in cache. Batched queries share each pass over a block: one GEMM, not n GEMVs
// (100 queries: 14 ms a query).
//
// Exactness: float32 accumulation is not the score xlir defines (double, exact-search.ts rowDot),
// and near-ties may order differently. So float32 only finds candidates: for each query we keep
// every row whose float32 score is within 2 * err of the running k-th best (a threshold heap of k
// float32 values), where err = gamma(d + 2) * |q| * max|v| bounds the float32 error of any dot
// product (Higham's bound for any summation order, FMA included, plus the output rounding). Those
// candidates are re-scored in double precision and ranked; any row of the exact top k is within
// 2 * err of the float32 k-th best, so the result equals a full double-precision scan. On unit
// vectors of 384 dims the window is 4.6e-5 wide: on 100k clustered vectors it held 10-11 rows for
// k = 10, so re-scoring costs nothing. (Float32 accumulation throughout was not an option: it
// changes rankings at near-ties; double accumulation in TypeScript reads ~2 GB/s.)
//
// Ties (equal double scores) go to the lower row unless the caller gives its own order (evaluation:
// trec_eval's larger document id first). NaN scores (a broken embedding) never qualify.
import { availableParallelism } from "node:os";
import { Graph } from "../tensor/graph.ts";
import { matmul } from "../tensor/ops.ts";
import { Session } from "../tensor/session.ts";
import { topK as topDocNumbers } from "./bm25-topk.ts";
import type { DocHit, DocScore } from "./doc-score.ts";
import { dotAll, rowDot, topDocs } from "./exact-search.ts";

/** The k best rows of each query, best first: row-major [n, k]; index -1 past the last. */
export interface TopK {
  n: number;
  k: number;
  index: Int32Array;
  score: Float64Array;
}

export interface ScanSearchOptions {
  threads?: number;
  device?: "cpu" | "cuda";
  /** Most float32 scores computed by one GEMM (default 4M: 16 MB). */
  blockFloats?: number;
  /** Queries that share one pass over the vectors (default 64). */
  batch?: number;
}

export interface ScanTopKOptions {
  /** Order of two rows with equal scores: negative when row a ranks first (default: lower row). */
  tieBreak?: (a: number, b: number) => number;
  /** Called after each batch of queries with the number done. */
  onProgress?: (done: number, total: number) => void;
}

/** 4M floats: 16 MB of scores per GEMM; at 64 queries, 65536 rows (the fastest block measured). */
export const BLOCK_FLOATS = 4 * 1024 * 1024;
export const BATCH = 64;
const U32 = 2 ** -24;

/** The float32 rounding error bound of a dot product of `d` terms: gamma(d + 2). */
export function float32DotError(d: number): number {
  const nu = (d + 2) * U32;
  return nu / (1 - nu);
}

// max |v| over rows: computed once per array (a collection view's vectors do not change once read)
const maxNorms = new WeakMap<Float32Array, number>();

/** The largest row norm of `vectors` (cached per array). */
export function maxRowNorm(vectors: Float32Array, dims: number): number {
  let m = maxNorms.get(vectors);
  if (m !== undefined) return m;
  m = 0;
  for (let base = 0; base + dims <= vectors.length; base += dims) {
    let s = 0;
    for (let j = base; j < base + dims; j++) s += vectors[j] * vectors[j];
    if (s > m) m = s;
    else if (Number.isNaN(s)) {
      m = NaN; // no bound (nor for Infinity): every row is a candidate
      break;
    }
  }
  m = Math.sqrt(m);
  maxNorms.set(vectors, m);
  return m;
}

/** How far below the float32 k-th best an exact top-k row can score in float32 (Infinity: no bound). */
function scoreWindow(gamma: number, query: Float32Array, dims: number, maxNorm: number): number {
  const w = 2 * gamma * Math.sqrt(rowDot(query, 0, query, dims)) * maxNorm;
  return Number.isFinite(w) ? w : Infinity;
}

export class ScanSearch {
  private constructor(
    private readonly session: Session,
    private readonly blockFloats: number,
    private readonly batch: number,
  ) {}

  static async create(opts: ScanSearchOptions = {}): Promise<ScanSearch> {
    const g = new Graph("scan-scores");
    const vectors = g.input("vectors", "float32", ["m", "d"]);
    const queries = g.input("queriesT", "float32", ["d", "n"]);
    g.output(matmul(vectors, queries), "scores");
    const session = await Session.create(g, { threads: opts.threads, device: opts.device });
    return new ScanSearch(session, opts.blockFloats ?? BLOCK_FLOATS, opts.batch ?? BATCH);
  }

  /**
   * The float32 scores of rows [from, to) against `n` queries given transposed ([dims, n]
   * row-major), as a row-major [to - from, n] block.
   */
  async block(
    vectors: Float32Array,
    dims: number,
    from: number,
    to: number,
    queriesT: Float32Array,
    n: number,
  ): Promise<Float32Array> {
    const res = await this.session.run(
      {
        vectors: {
          dtype: "float32",
          dims: [to - from, dims],
          data: vectors.subarray(from * dims, to * dims),
        },
        queriesT: { dtype: "float32", dims: [dims, n], data: queriesT },
      },
      ["scores"],
    );
    return res.scores.data as Float32Array;
  }

  /** Float32 scores of one query against every row (a candidate filter: see the file comment). */
  async scores(vectors: Float32Array, dims: number, query: Float32Array): Promise<Float32Array> {
    if (query.length !== dims)
      throw new Error(`query vector has ${query.length} dims, the collection ${dims}`);
    const rows = Math.floor(vectors.length / dims);
    if (rows === 0) return new Float32Array(0);
    return this.block(vectors, dims, 0, rows, query, 1);
  }

  /** The exact top k rows of every query (`queries`: [n, dims] row-major) by dot product. */
  async topK(
    vectors: Float32Array,
    dims: number,
    queries: Float32Array,
    k: number,
    opts: ScanTopKOptions = {},
  ): Promise<TopK> {
    const maxNorm = maxRowNorm(vectors, dims);
    const gamma = float32DotError(dims);
    const scorer: BatchScorer = (batch, n) => {
      const qT = transposeRows(batch, n, dims);
      return (from, to) => this.block(vectors, dims, from, to, qT, n);
    };
    return scanTopK(scorer, vectors, dims, queries, k, {
      ...opts,
      keep: k,
      window: (q) => scoreWindow(gamma, q, dims, maxNorm),
      batch: this.batch,
      blockFloats: this.blockFloats,
    });
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Approximate scores of a batch of `n` queries ([n, dims] row-major): a function giving rows
 * [from, to) as a row-major [to - from, n] block.
 */
export type BatchScorer = (
  batch: Float32Array,
  n: number,
) => (from: number, to: number) => Promise<Float32Array>;

export interface ScanPlan extends ScanTopKOptions {
  /** Candidates kept per query before re-scoring (>= k). */
  keep: number;
  /** How far below the keep-th best approximate score a row stays a candidate. */
  window: (query: Float32Array) => number;
  batch: number;
  blockFloats: number;
}

/**
 * The exact top k rows of every query: approximate scores of a batch of queries over blocks of rows
 * pick candidates (Candidates), which are re-scored in double precision. Shared by the float32 scan
 * (exact by its error window) and the int8 scan (exact when `keep` covers the true top k).
 */
export async function scanTopK(
  scorer: BatchScorer,
  vectors: Float32Array,
  dims: number,
  queries: Float32Array,
  k: number,
  plan: ScanPlan,
): Promise<TopK> {
  if (queries.length % dims !== 0)
    throw new Error(`query vectors of ${queries.length} values are not rows of ${dims} dims`);
  const n = queries.length / dims;
  const rows = Math.floor(vectors.length / dims);
  const kk = Math.max(0, Math.min(k, rows));
  const out: TopK = { n, k: kk, index: new Int32Array(n * kk).fill(-1), score: new Float64Array(n * kk) };
  if (n === 0 || kk === 0) return out;
  const keep = Math.min(rows, Math.max(kk, plan.keep));
  for (let q0 = 0; q0 < n; q0 += plan.batch) {
    const nb = Math.min(plan.batch, n - q0);
    const batch = queries.subarray(q0 * dims, (q0 + nb) * dims);
    const query = (j: number) => batch.subarray(j * dims, (j + 1) * dims);
    const picks = Array.from({ length: nb }, (_, j) => new Candidates(keep, plan.window(query(j))));
    const score = scorer(batch, nb);
    const step = Math.max(1, Math.floor(plan.blockFloats / nb));
    for (let from = 0; from < rows; from += step) {
      const s = await score(from, Math.min(rows, from + step));
      for (let j = 0; j < nb; j++) picks[j].scan(s, j, nb, from);
    }
    for (let j = 0; j < nb; j++) picks[j].rescore(vectors, dims, query(j), plan.tieBreak, out, q0 + j);
    plan.onProgress?.(q0 + nb, n);
  }
  return out;
}

/** `n` rows of `dims` values, transposed: [dims, n] row-major. */
export function transposeRows(m: Float32Array, n: number, dims: number): Float32Array {
  const t = new Float32Array(dims * n);
  for (let j = 0; j < n; j++) for (let c = 0; c < dims; c++) t[c * n + j] = m[j * dims + c];
  return t;
}

/**
 * One query's candidates: a min-heap of the k best approximate scores seen (its root is the running
 * k-th best), and every row whose approximate score came within `window` of it, with that score.
 */
export class Candidates {
  private readonly heap: ThresholdHeap;
  /** Scores at or above this may be in the exact top k. */
  private cut = -Infinity;
  private rows = new Int32Array(64);
  private vals = new Float32Array(64);
  private count = 0;

  /** `k`: how many rows to keep; `window`: how far below the k-th best a row stays a candidate. */
  constructor(
    k: number,
    private readonly window: number,
  ) {
    this.heap = new ThresholdHeap(k);
  }

  /** Column `j` of a row-major [*, stride] block whose first row is row `first`. */
  scan(block: Float32Array, j: number, stride: number, first: number): void {
    let cut = this.cut;
    for (let i = j, r = first; i < block.length; i += stride, r++) {
      const s = block[i];
      if (s >= cut) cut = this.add(r, s);
    }
  }

  private add(row: number, s: number): number {
    if (this.count === this.rows.length) this.grow();
    this.rows[this.count] = row;
    this.vals[this.count++] = s;
    this.heap.offer(s);
    this.cut = this.heap.threshold() - this.window;
    return this.cut;
  }

  /** Drops the candidates the cut has passed, or doubles the room when it has passed few. */
  private grow(): void {
    let w = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.vals[i] >= this.cut) {
        this.rows[w] = this.rows[i];
        this.vals[w++] = this.vals[i];
      }
    }
    this.count = w;
    if (w * 2 > this.rows.length) {
      const rows = new Int32Array(this.rows.length * 2);
      const vals = new Float32Array(this.rows.length * 2);
      rows.set(this.rows);
      vals.set(this.vals);
      this.rows = rows;
      this.vals = vals;
    }
  }

  /** The exact top out.k of the candidates, in double precision, into row `at` of `out`. */
  rescore(
    vectors: Float32Array,
    dims: number,
    query: Float32Array,
    tieBreak: ((a: number, b: number) => number) | undefined,
    out: TopK,
    at: number,
  ): void {
    const picked: { row: number; score: number }[] = [];
    for (let i = 0; i < this.count; i++) {
      if (!(this.vals[i] >= this.cut)) continue;
      const row = this.rows[i];
      picked.push({ row, score: rowDot(vectors, row * dims, query, dims) });
    }
    picked.sort((a, b) =>
      a.score !== b.score ? b.score - a.score : tieBreak ? tieBreak(a.row, b.row) : a.row - b.row,
    );
    for (let i = 0; i < Math.min(out.k, picked.length); i++) {
      out.index[at * out.k + i] = picked[i].row;
      out.score[at * out.k + i] = picked[i].score;
    }
  }
}

/** Exact search of one query over a collection's chunks, as documents. */
export interface DocSearch {
  hits: DocHit[];
  /** Every chunk's exact score (computed on first call: only explanations need them). */
  scores: () => Float64Array;
}

/**
 * The k best documents for one query over every chunk vector: the same hits, scores and order as
 * topDocs(dotAll(...)) (exact-search.ts), found from float32 scores re-scored near the cut. Under
 * "max" the cut is the float32 k-th best document minus the error window (see the file comment):
 * a document of the exact top k has its best chunk above it. Under "sum" each chunk's float32 score
 * is within err of its exact one, so a document summing K of them is within K * err: only documents
 * whose float32 sum plus that bound reaches the k-th best float32 sum minus its bound can be in the
 * exact top k, and only their chunks are re-scored in double precision.
 * `chunkDoc[c]`: chunk c's document (-1: none); `allowed[d]`: 1 for documents the filter passes.
 */
export async function searchDocs(
  searcher: ScanSearch,
  vectors: Float32Array,
  query: Float32Array,
  chunkDoc: Int32Array,
  docCount: number,
  agg: DocScore,
  k: number,
  allowed: Uint8Array | null,
): Promise<DocSearch> {
  const dims = query.length;
  if (query.length * chunkDoc.length > vectors.length)
    throw new Error(
      `query vector has ${query.length} dims, the collection ${vectors.length / chunkDoc.length}`,
    );
  let exact: Float64Array | null = null;
  const scores = () => (exact ??= dotAll(vectors, dims, query));
  const s32 = await searcher.scores(vectors, dims, query);
  const err = scoreWindow(float32DotError(dims), query, dims, maxRowNorm(vectors, dims)) / 2;
  if (agg.kind === "sum") {
    const hits = sumDocs(s32, err, vectors, query, chunkDoc, docCount, agg, k, allowed);
    return { hits, scores };
  }
  const best = new Float32Array(docCount).fill(-Infinity);
  for (let c = 0; c < s32.length; c++) {
    const d = chunkDoc[c];
    if (d >= 0 && (allowed === null || allowed[d]) && s32[c] > best[d]) best[d] = s32[c];
  }
  const cut = kthLargest(best, k) - 2 * err;
  // the exact best chunk of every document with a chunk above the cut (first of equal chunks)
  const docBest = new Map<number, { score: number; chunk: number }>();
  for (let c = 0; c < s32.length; c++) {
    if (!(s32[c] >= cut)) continue;
    const d = chunkDoc[c];
    if (d < 0 || (allowed !== null && !allowed[d])) continue;
    const s = rowDot(vectors, c * dims, query, dims);
    const b = docBest.get(d);
    if (b === undefined) docBest.set(d, { score: s, chunk: c });
    else if (s > b.score) [b.score, b.chunk] = [s, c];
  }
  const hits = topDocNumbers([...docBest.keys()], (d) => docBest.get(d)!.score, k).map((d) => ({
    doc: d,
    ...docBest.get(d)!,
  }));
  return { hits, scores };
}

/**
 * searchDocs under "sum": float32 document sums bound the exact ones; candidates re-scored exactly.
 * (The double additions of a sum err by ~1e-16 of it, far inside K * err.)
 */
function sumDocs(
  s32: Float32Array,
  err: number,
  vectors: Float32Array,
  query: Float32Array,
  chunkDoc: Int32Array,
  docCount: number,
  agg: DocScore & { kind: "sum" },
  k: number,
  allowed: Uint8Array | null,
): DocHit[] {
  // each document's chunk scores side by side (counting sort by document)
  const start = new Int32Array(docCount + 1);
  const keep = (c: number) => chunkDoc[c] >= 0 && (allowed === null || allowed[chunkDoc[c]] === 1);
  for (let c = 0; c < s32.length; c++) if (keep(c)) start[chunkDoc[c] + 1]++;
  for (let d = 0; d < docCount; d++) start[d + 1] += start[d];
  const byDoc = new Float32Array(start[docCount]);
  const at = start.slice(0, docCount);
  for (let c = 0; c < s32.length; c++) if (keep(c)) byDoc[at[chunkDoc[c]]++] = s32[c];
  // float32 sum of each document's best `top` chunks, +- its bound
  const lower = new Float64Array(docCount).fill(-Infinity);
  const upper = new Float64Array(docCount).fill(-Infinity);
  for (let d = 0; d < docCount; d++) {
    let part = byDoc.subarray(start[d], start[d + 1]);
    if (part.length === 0) continue;
    if (part.length > agg.top) part = part.sort().subarray(part.length - agg.top);
    let sum = 0;
    for (let i = 0; i < part.length; i++) sum += part[i];
    lower[d] = sum - part.length * err;
    upper[d] = sum + part.length * err;
  }
  const cut = kthLargest(lower, k);
  const candidate = new Uint8Array(docCount);
  for (let d = 0; d < docCount; d++) if (upper[d] >= cut && upper[d] > -Infinity) candidate[d] = 1;
  const exact = new Float64Array(s32.length);
  for (let c = 0; c < s32.length; c++)
    if (chunkDoc[c] >= 0 && candidate[chunkDoc[c]])
      exact[c] = rowDot(vectors, c * query.length, query, query.length);
  return topDocs(exact, chunkDoc, docCount, agg, k, candidate);
}

/** The k-th largest of `values` (-Infinity when fewer than k are above -Infinity). */
function kthLargest(values: Float32Array | Float64Array, k: number): number {
  const heap = new ThresholdHeap(k);
  for (let i = 0; i < values.length; i++) if (values[i] > -Infinity) heap.offer(values[i]);
  return heap.threshold();
}

/** The k largest values offered so far, as a min-heap: its root is the running k-th best. */
class ThresholdHeap {
  private readonly h: Float64Array;
  private size = 0;

  constructor(private readonly k: number) {
    this.h = new Float64Array(k);
  }

  offer(v: number): void {
    const h = this.h;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0 && h[(i - 1) >> 1] > v) {
        h[i] = h[(i - 1) >> 1];
        i = (i - 1) >> 1;
      }
      h[i] = v;
    } else if (v > h[0]) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= this.k) break;
        const c = l + 1 < this.k && h[l + 1] < h[l] ? l + 1 : l;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = v;
    }
  }

  /** The k-th largest so far; -Infinity until k values came. */
  threshold(): number {
    return this.size < this.k || this.k === 0 ? -Infinity : this.h[0];
  }
}

let shared: Promise<ScanSearch> | null = null;

/** One searcher for the process (all cores), made on first use: a session per query would cost more. */
export function sharedScanSearch(): Promise<ScanSearch> {
  shared ??= ScanSearch.create({ threads: availableParallelism() });
  return shared;
}
