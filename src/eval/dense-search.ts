// Exact dense search for evaluation: every query scored against every document (no ANN, so a
// model's numbers never depend on an index's recall), by the index's own exact kernel
// (index/scan-search.ts: float32 GEMM over blocks of documents, candidates re-scored in double
// precision), so evaluation and search rank alike. The top k of each query are kept in trec_eval's
// order (score descending, ties by document id descending), so cutting a ranking at k keeps exactly
// what trec_eval would rank first.
import type { Embeddings } from "../encode/encoder.ts";
import { ScanSearch, type TopK } from "../index/scan-search.ts";
import { compareIds } from "./ranking.ts";

export type { TopK };

export interface DenseScorerOptions {
  threads?: number;
  device?: "cpu" | "cuda";
  /** Most float32 scores computed at once (default 4M floats, 16 MB). */
  blockFloats?: number;
  /** Queries scored in one pass over the documents (default 64). */
  batch?: number;
}

export class DenseScorer {
  private constructor(private readonly scan: ScanSearch) {}

  static async create(opts: DenseScorerOptions = {}): Promise<DenseScorer> {
    return new DenseScorer(await ScanSearch.create(opts));
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
    const [, d] = queries.dims;
    const [m, d2] = docs.dims;
    if (d !== d2) throw new Error(`query vectors have ${d} dimensions but document vectors ${d2}`);
    if (docIds.length !== m) throw new Error(`${docIds.length} document ids for ${m} document vectors`);
    return this.scan.topK(docs.data, d, queries.data, k, {
      tieBreak: (a, b) => compareIds(docIds[b], docIds[a]),
      onProgress,
    });
  }

  async close(): Promise<void> {
    await this.scan.close();
  }
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
