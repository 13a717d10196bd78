// Reciprocal rank fusion of run-shaped rankings (docid -> score per query), on top of the search
// engine's own fusion (src/index/fusion.ts): each input is read in trec_eval's order, so fusing
// the written run files gives the same result.
import { RRF_K, reciprocalRankFusion } from "../index/fusion.ts";
import { rankDocs } from "./ranking.ts";

export { RRF_K };

/** One query's fused ranking (document id -> fused score), cut to the best `depth`. */
export function rrf(
  rankings: readonly ReadonlyMap<string, number>[],
  k = RRF_K,
  depth = Infinity,
): Map<string, number> {
  const lists = rankings.map((scores) => rankDocs(scores).map((id) => ({ id, score: scores.get(id)! })));
  return new Map(
    reciprocalRankFusion(lists, k)
      .slice(0, depth)
      .map((f) => [f.id, f.score]),
  );
}
