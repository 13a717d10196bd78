// Hybrid search: one ranked list from a dense list and a BM25 list of the same documents.
//  - Reciprocal rank fusion (Cormack et al. 2009): score(d) = sum over lists of 1 / (k + rank),
//    rank from 1, k = 60; a document missing from a list gets nothing from it. Scale-free.
//  - Weighted score fusion: each list's scores min-max normalised to [0, 1] over the list, then
//    w * dense + (1 - w) * bm25; a document missing from a list gets 0 from it.
// Ties go to the document that ranks higher in the first list it appears in, then by id.

export interface RankedItem {
  id: string;
  score: number;
}

export interface FusedItem {
  id: string;
  score: number;
  /** The item's score in each input list (undefined where it is missing). */
  parts: (number | undefined)[];
  /** Its 1-based rank in each input list (undefined where it is missing). */
  ranks: (number | undefined)[];
  /** What each list added to `score` (0 where it is missing): they sum to it, in list order. */
  contributions: number[];
}

export const RRF_K = 60;

export function reciprocalRankFusion(lists: readonly RankedItem[][], k = RRF_K): FusedItem[] {
  if (!(k >= 0)) throw new Error(`RRF k must be >= 0, got ${k}`);
  return fuse(lists, (list) => list.map((_, r) => 1 / (k + r + 1)));
}

/** `weights[i]` multiplies list i's min-max normalised scores (e.g. [0.5, 0.5]). */
export function weightedFusion(lists: readonly RankedItem[][], weights: readonly number[]): FusedItem[] {
  if (weights.length !== lists.length || weights.some((w) => !Number.isFinite(w) || w < 0)) {
    throw new Error(`fusion weights must be ${lists.length} numbers >= 0, got ${JSON.stringify(weights)}`);
  }
  return fuse(lists, (list, i) => minMax(list.map((x) => x.score)).map((s) => weights[i] * s));
}

/** Scores mapped to [0, 1]; all equal (or one item) map to 1. */
export function minMax(scores: readonly number[]): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of scores) [lo, hi] = [Math.min(lo, s), Math.max(hi, s)];
  return scores.map((s) => (hi > lo ? (s - lo) / (hi - lo) : 1));
}

function fuse(
  lists: readonly RankedItem[][],
  contributions: (list: RankedItem[], i: number) => number[],
): FusedItem[] {
  type Entry = Omit<FusedItem, "id"> & { first: number };
  const acc = new Map<string, Entry>();
  lists.forEach((list, i) => {
    const seen = new Set<string>();
    const c = contributions(list, i);
    list.forEach((x, r) => {
      if (seen.has(x.id)) throw new Error(`document ${JSON.stringify(x.id)} is twice in ranked list ${i}`);
      seen.add(x.id);
      let e = acc.get(x.id);
      if (e === undefined) {
        const none = lists.map(() => undefined);
        e = {
          score: 0,
          parts: none,
          ranks: [...none],
          contributions: lists.map(() => 0),
          first: i * 1e9 + r,
        };
        acc.set(x.id, e);
      }
      e.score += c[r];
      e.parts[i] = x.score;
      e.ranks[i] = r + 1;
      e.contributions[i] = c[r];
    });
  });
  return [...acc]
    .sort((a, b) => b[1].score - a[1].score || a[1].first - b[1].first || (a[0] < b[0] ? -1 : 1))
    .map(([id, e]) => ({
      id,
      score: e.score,
      parts: e.parts,
      ranks: e.ranks,
      contributions: e.contributions,
    }));
}
