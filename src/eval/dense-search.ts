// Exact dense search for evaluation: every query scored against every document (no ANN, so a
// model's numbers never depend on an index's recall). The score matrix comes from one ONNX Runtime
// Gemm (queries x documents^T, multi-threaded), a block of queries at a time so memory stays
// bounded; the top k of each row are kept in trec_eval's order (score descending, ties by document
// id descending), so cutting a ranking at k keeps exactly what trec_eval would rank first.
import type { Embeddings } from "../encode/encoder.ts";
import { Graph } from "../tensor/graph.ts";
import { gemm } from "../tensor/ops.ts";
import { Session } from "../tensor/session.ts";
import { compareIds } from "./ranking.ts";

/** The k best documents of each query, best first: row-major [n, k]; index -1 past the last. */
export interface TopK {
  n: number;
  k: number;
  index: Int32Array;
  score: Float64Array;
}

/** Scores of one block are at most this many floats (64 MB). */
const BLOCK_FLOATS = 16 * 1024 * 1024;

export interface DenseScorerOptions {
  threads?: number;
  device?: "cpu" | "cuda";
  /** Most scores computed at once (default 16M floats, 64 MB). */
  blockFloats?: number;
}

export class DenseScorer {
  private constructor(
    private readonly session: Session,
    private readonly blockFloats: number,
  ) {}

  /** One session serves every shape: queries, documents and the dimension are symbolic. */
  static async create(opts: DenseScorerOptions = {}): Promise<DenseScorer> {
    const g = new Graph("dense-scores");
    const q = g.input("queries", "float32", ["n", "d"]);
    const docs = g.input("docs", "float32", ["m", "d"]);
    g.output(gemm(q, docs, undefined, { transB: true }), "scores");
    const session = await Session.create(g, { threads: opts.threads, device: opts.device });
    return new DenseScorer(session, opts.blockFloats ?? BLOCK_FLOATS);
  }

  /**
   * The top k documents of every query by dot product. `docIds` break exact ties as trec_eval does.
   * `onProgress` gets the number of queries done.
   */
  async topK(
    queries: Embeddings,
    docs: Embeddings,
    k: number,
    docIds: readonly string[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<TopK> {
    const [n, d] = queries.dims;
    const [m, d2] = docs.dims;
    if (d !== d2) throw new Error(`query vectors have ${d} dimensions but document vectors ${d2}`);
    if (docIds.length !== m) throw new Error(`${docIds.length} document ids for ${m} document vectors`);
    const kk = Math.max(0, Math.min(k, m));
    const out: TopK = { n, k: kk, index: new Int32Array(n * kk).fill(-1), score: new Float64Array(n * kk) };
    if (n === 0 || kk === 0) return out;
    const block = Math.max(1, Math.min(n, Math.floor(this.blockFloats / m)));
    const docFeed = { dtype: "float32" as const, dims: [m, d], data: docs.data };
    for (let start = 0; start < n; start += block) {
      const rows = Math.min(block, n - start);
      const res = await this.session.run(
        {
          queries: {
            dtype: "float32",
            dims: [rows, d],
            data: queries.data.subarray(start * d, (start + rows) * d),
          },
          docs: docFeed,
        },
        ["scores"],
      );
      const scores = res.scores.data as Float32Array;
      for (let r = 0; r < rows; r++)
        selectTopK(scores.subarray(r * m, (r + 1) * m), kk, docIds, out, start + r);
      onProgress?.(start + rows, n);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Writes the k best of `scores` into row `row` of `out`, best first. A min-heap of the k best so
 * far, its root the worst of them; `below(a, b)`: a ranks after b in trec_eval's order.
 */
export function selectTopK(
  scores: Float32Array,
  k: number,
  ids: readonly string[],
  out: TopK,
  row: number,
): void {
  const below = (a: number, b: number) =>
    scores[a] < scores[b] || (scores[a] === scores[b] && compareIds(ids[a], ids[b]) < 0);
  const heap = new Int32Array(k);
  let size = 0;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < size && below(heap[l], heap[w])) w = l;
      if (r < size && below(heap[r], heap[w])) w = r;
      if (w === i) return;
      [heap[i], heap[w]] = [heap[w], heap[i]];
      i = w;
    }
  };
  for (let j = 0; j < scores.length; j++) {
    // NaN (a broken embedding) would never compare; it ranks last instead.
    if (Number.isNaN(scores[j])) continue;
    if (size < k) {
      heap[size] = j;
      for (let i = size++; i > 0;) {
        const p = (i - 1) >> 1;
        if (!below(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    } else if (below(heap[0], j)) {
      heap[0] = j;
      down(0);
    }
  }
  const best = Array.from(heap.subarray(0, size)).sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
  best.forEach((j, i) => {
    out.index[row * out.k + i] = j;
    out.score[row * out.k + i] = scores[j];
  });
}

/** A copy with every row scaled to unit length (a zero row stays zero): dot product = cosine. */
export function normalizeRows(e: Embeddings): Embeddings {
  const [n, d] = e.dims;
  const data = new Float32Array(e.data);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * d; j < (i + 1) * d; j++) s += data[j] * data[j];
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let j = i * d; j < (i + 1) * d; j++) data[j] *= inv;
  }
  return { data, dims: [n, d] };
}

/** Rows of several matrices of one width, stacked in order. */
export function concatRows(parts: readonly Embeddings[]): Embeddings {
  if (parts.length === 1) return parts[0];
  const d = parts[0]?.dims[1] ?? 0;
  const n = parts.reduce((s, p) => s + p.dims[0], 0);
  const data = new Float32Array(n * d);
  let at = 0;
  for (const p of parts) {
    if (p.dims[1] !== d) throw new Error(`cannot stack vectors of ${p.dims[1]} and ${d} dimensions`);
    data.set(p.data, at);
    at += p.data.length;
  }
  return { data, dims: [n, d] };
}
