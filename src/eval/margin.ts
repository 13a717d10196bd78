// Margin-based scoring for bitext mining, as LASER's xSIM computes it (source/xsim.py, after
// Artetxe & Schwenk 2019, "Margin-based Parallel Corpus Mining"): a candidate's cosine is compared
// with the mean cosine of the two sentences' k nearest neighbours, which demotes "hubs" that are
// close to everything. As in xSIM, only x's k nearest neighbours by cosine are candidates:
//   score(x, y) = cos(x, y) / ((avg_k(x) + avg_k(y)) / 2)     (ratio)
//   score(x, y) = cos(x, y) - (avg_k(x) + avg_k(y)) / 2       (distance)
// where avg_k(x) is the mean cosine of x's k nearest neighbours on the other side.
import type { TopK } from "./dense-search.ts";

export type MarginKind = "ratio" | "distance";

/** The mean score of each row's neighbours (rows with none: 0). */
export function neighbourMeans(t: TopK): Float64Array {
  const out = new Float64Array(t.n);
  for (let i = 0; i < t.n; i++) {
    let s = 0;
    let c = 0;
    for (let j = i * t.k; j < (i + 1) * t.k; j++)
      if (t.index[j] >= 0) {
        s += t.score[j];
        c++;
      }
    out[i] = c ? s / c : 0;
  }
  return out;
}

/**
 * Rescores `fwd` (x -> y, each x's k nearest y by cosine) with the margin, given `bwd` (y -> x, each
 * y's k nearest x), and re-sorts each row by the margin, best first; equal margins keep the cosine
 * order, as xSIM's argmax takes the first best.
 */
export function marginScores(fwd: TopK, bwd: TopK, kind: MarginKind = "ratio"): TopK {
  const ax = neighbourMeans(fwd);
  const ay = neighbourMeans(bwd);
  const out: TopK = {
    n: fwd.n,
    k: fwd.k,
    index: new Int32Array(fwd.index),
    score: new Float64Array(fwd.score.length),
  };
  for (let i = 0; i < fwd.n; i++) {
    const row: { j: number; s: number }[] = [];
    for (let c = 0; c < fwd.k; c++) {
      const j = fwd.index[i * fwd.k + c];
      if (j < 0) break;
      const a = fwd.score[i * fwd.k + c];
      const b = (ax[i] + ay[j]) / 2;
      row.push({ j, s: kind === "ratio" ? a / b : a - b });
    }
    row.sort((p, q) => q.s - p.s); // stable: ties stay in cosine order
    row.forEach(({ j, s }, c) => {
      out.index[i * fwd.k + c] = j;
      out.score[i * fwd.k + c] = s;
    });
  }
  return out;
}
