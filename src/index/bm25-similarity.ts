// Lucene's BM25Similarity (Lucene 8, 9 and 10 compute the same values), operation for operation in
// float32, so our scores equal Lucene's bit for bit where the inputs agree:
//   idf    = (float) ln(1 + (N - n + 0.5) / (n + 0.5))        in double, then rounded to float
//   avgdl  = (float) (sumTotalTermFreq / (double) N)
//   normInverse[dl] = 1f / (k1 * ((1 - b) + b * dl / avgdl))  in float, for the 256 decoded lengths
//   weight = boost * idf                                      (boost = times the term is in the query)
//   score  = weight - weight / (1 + freq * normInverse)        = weight * freq / (freq + k1 * (...))
// There is no (k1 + 1) factor: Lucene 8 dropped it (it scales every score alike, so rankings are
// unchanged). N is the number of documents with at least one term in the field, n the number of
// those containing the term, and dl the document's token count after analysis.
import { LENGTH_TABLE } from "./bm25-norms.ts";

const f = Math.fround;

/** "lucene": score with Lucene's one-byte lossy lengths (the default); "exact": true token counts. */
export type LengthEncoding = "lucene" | "exact";

export interface Bm25Params {
  readonly k1: number;
  readonly b: number;
  readonly lengths: LengthEncoding;
}

/** Pyserini's defaults (Lucene's own are k1 1.2, b 0.75). */
export const DEFAULT_BM25: Bm25Params = Object.freeze({ k1: 0.9, b: 0.4, lengths: "lucene" });

/** Validates BM25 parameters as Lucene does (k1 finite and >= 0, b in [0, 1]); stores them as floats. */
export function bm25Params(options: Partial<Bm25Params> = {}, source = "BM25 options"): Bm25Params {
  const { k1, b, lengths } = { ...DEFAULT_BM25, ...options };
  if (typeof k1 !== "number" || !Number.isFinite(k1) || k1 < 0) {
    throw new Error(
      `${source}: illegal k1 ${JSON.stringify(k1)}: give a finite number >= 0 (Pyserini uses 0.9)`,
    );
  }
  if (typeof b !== "number" || Number.isNaN(b) || b < 0 || b > 1) {
    throw new Error(
      `${source}: illegal b ${JSON.stringify(b)}: give a number between 0 and 1 (Pyserini uses 0.4)`,
    );
  }
  if (lengths !== "lucene" && lengths !== "exact") {
    throw new Error(`${source}: lengths must be "lucene" or "exact", got ${JSON.stringify(lengths)}`);
  }
  // Lucene holds k1 and b as Java floats; so do we, so 0.9 means float 0.9 in every formula.
  return Object.freeze({ k1: f(k1), b: f(b), lengths });
}

export function luceneIdf(docFreq: number, docCount: number): number {
  return f(Math.log(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5)));
}

export function avgFieldLength(sumTotalTermFreq: number, docCount: number): number {
  return f(sumTotalTermFreq / docCount);
}

/** 1 / (k1 * ((1 - b) + b * dl / avgdl)) in float32, dl being the (decoded or exact) length. */
export function normInverse(k1: number, b: number, dl: number, avgdl: number): number {
  return f(1 / f(k1 * f(f(1 - b) + f(f(b * f(dl)) / avgdl))));
}

/** BM25Similarity.scorer's cache: normInverse for each of the 256 encoded lengths. */
export function normInverseTable(k1: number, b: number, avgdl: number): Float32Array {
  return LENGTH_TABLE.map((dl) => normInverse(k1, b, dl, avgdl));
}

/** The weight of a query term: boost (its count in the query) times its idf, in float. */
export function termWeight(boost: number, idf: number): number {
  return f(f(boost) * idf);
}

/** BM25Scorer.score: one term's contribution to one document. */
export function termScore(weight: number, freq: number, normInv: number): number {
  return f(weight - f(weight / f(1 + f(freq * normInv))));
}
