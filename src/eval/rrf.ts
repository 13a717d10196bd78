// Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): a document's fused score is the sum over
// the input rankings of 1 / (k + rank), rank counted from 1, k = 60 as in the paper and Pyserini's
// hybrid runs. Ranks are read in trec_eval's order, so fusing the run files gives the same result.
import { rankDocs } from "./ranking.ts";

export const RRF_K = 60;

/** One query's fused ranking (document id -> fused score), cut to the best `depth`. */
export function rrf(
  rankings: readonly ReadonlyMap<string, number>[],
  k = RRF_K,
  depth = Infinity,
): Map<string, number> {
  if (!(k >= 0)) throw new Error(`RRF k must be 0 or more, got ${k}`);
  const fused = new Map<string, number>();
  for (const scores of rankings)
    rankDocs(scores).forEach((doc, i) => fused.set(doc, (fused.get(doc) ?? 0) + 1 / (k + i + 1)));
  if (fused.size <= depth) return fused;
  return new Map(
    rankDocs(fused)
      .slice(0, depth)
      .map((d) => [d, fused.get(d)!]),
  );
}
