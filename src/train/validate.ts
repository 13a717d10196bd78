// Validation during fine-tuning, as the paper reports it: each query ranks every validation passage
// by similarity; MRR (1 / rank of its own positive, over the full ranking) and R@1/5/10, per query
// language and over all queries. Ties count against the positive (rank = 1 + passages scoring at
// least as high), so a collapsed model that scores everything equally gets no credit.

export interface RankFigures {
  mrr: number;
  r1: number;
  r5: number;
  r10: number;
  queries: number;
}

/** Row-wise L2 normalisation, in place. */
export function normalizeRows(data: Float32Array, dim: number): Float32Array {
  for (let r = 0; r < data.length / dim; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[r * dim + j] ** 2;
    const n = Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < dim; j++) data[r * dim + j] /= n;
  }
  return data;
}

/**
 * Per-language and overall ("all") figures; `positive[i]` is the passage row of query i, `langs[i]`
 * its language. Similarity is the dot product of the rows given (normalise them first for cosine).
 */
export function rankFigures(
  queries: Float32Array,
  passages: Float32Array,
  dim: number,
  positive: readonly number[],
  langs: readonly string[],
): Record<string, RankFigures> {
  return rankByScore(
    (i, p) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += queries[i * dim + j] * passages[p * dim + j];
      return s;
    },
    passages.length / dim,
    positive,
    langs,
  );
}

/** rankFigures for any similarity: `score(i, p)` of query i and passage p, over `np` passages. */
export function rankByScore(
  score: (query: number, passage: number) => number,
  np: number,
  positive: readonly number[],
  langs: readonly string[],
): Record<string, RankFigures> {
  const acc: Record<string, RankFigures> = {};
  const add = (key: string, rank: number) => {
    const a = (acc[key] ??= { mrr: 0, r1: 0, r5: 0, r10: 0, queries: 0 });
    a.mrr += 1 / rank;
    a.r1 += rank <= 1 ? 1 : 0;
    a.r5 += rank <= 5 ? 1 : 0;
    a.r10 += rank <= 10 ? 1 : 0;
    a.queries += 1;
  };
  positive.forEach((pos, i) => {
    const own = score(i, pos);
    let rank = 1;
    for (let p = 0; p < np; p++) if (p !== pos && score(i, p) >= own) rank++;
    add(langs[i], rank);
    add("all", rank);
  });
  for (const a of Object.values(acc)) {
    a.mrr /= a.queries;
    a.r1 /= a.queries;
    a.r5 /= a.queries;
    a.r10 /= a.queries;
  }
  return acc;
}
