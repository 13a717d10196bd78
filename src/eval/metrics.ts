// Per-query measures, each following the rules of the matching trec_eval 10.0 m_*.c file, computed on
// the judged ranking of ranking.ts. `level` is trec_eval's -l: the least relevance value that makes
// a document relevant for the binary measures (default 1). The graded measures (ndcg, ndcg_cut)
// ignore it: their gains are the qrels values themselves, exactly as in trec_eval.
// Sums run in rank order, as trec_eval's do, so the float64 results agree bit for bit in practice.
import { log, log2 } from "./libm.ts";
import type { Judged } from "./ranking.ts";

/** trec_eval's MIN_GEO_MEAN: the floor under a query's average precision in gm_map. */
export const MIN_GEO_MEAN = 0.00001;

/** Number retrieved (after -M). */
export const numRet = (j: Judged): number => j.rels.length;

/** Number of judged documents with relevance >= level, retrieved or not (the recall denominator). */
export function numRel(j: Judged, level = 1): number {
  let n = 0;
  for (let v = Math.max(level, 0); v < j.counts.length; v++) n += j.counts[v];
  return n;
}

/** Relevant documents among the first k retrieved. */
export function relRet(j: Judged, level = 1, k = Infinity): number {
  const n = Math.min(k, j.rels.length);
  let r = 0;
  for (let i = 0; i < n; i++) if (j.rels[i] >= level) r++;
  return r;
}

/** P.k: relevant in the top k over k. Past the end of the ranking, trec_eval counts the missing
 *  documents as non-relevant (P_20 of a 15-document ranking still divides by 20). */
export const precision = (j: Judged, k: number, level = 1): number => relRet(j, level, k) / k;

/** recall.k: relevant in the top k over all relevant; 0 when the query has no relevant document. */
export function recall(j: Judged, k: number, level = 1): number {
  const r = numRel(j, level);
  return r === 0 ? 0 : relRet(j, level, k) / r;
}

/**
 * Average precision of the top k (map with k = Infinity, map_cut.k otherwise): the precision at each
 * relevant retrieved document, summed, over ALL relevant documents of the query (unretrieved ones
 * contribute 0). 0 when the query has no relevant document.
 */
export function averagePrecision(j: Judged, level = 1, k = Infinity): number {
  const r = numRel(j, level);
  if (r === 0) return 0;
  const n = Math.min(k, j.rels.length);
  let sum = 0;
  let found = 0;
  for (let i = 0; i < n; i++) {
    if (j.rels[i] >= level) {
      found++;
      sum += found / (i + 1);
    }
  }
  return sum / r;
}

/** gm_map's per-query value: log(max(AP, MIN_GEO_MEAN)); the summary is exp(mean of these). */
export const logAveragePrecision = (j: Judged, level = 1): number =>
  log(Math.max(averagePrecision(j, level), MIN_GEO_MEAN));

/** gm_bpref's per-query value: log(max(bpref, MIN_GEO_MEAN)); the summary is exp(mean of these). */
export const logBpref = (j: Judged, level = 1): number => log(Math.max(bpref(j, level), MIN_GEO_MEAN));

/**
 * recip_rank: 1 / rank of the first relevant document, 0 if none is retrieved. With k it is MRR@k
 * as BEIR and pytrec_eval users compute it (recip_rank of the ranking cut at k); trec_eval itself
 * has no cutoff for this measure and gets the same number with -M k.
 */
export function recipRank(j: Judged, level = 1, k = Infinity): number {
  const n = Math.min(k, j.rels.length);
  for (let i = 0; i < n; i++) if (j.rels[i] >= level) return 1 / (i + 1);
  return 0;
}

/** Rprec: precision after R = numRel documents (m_Rprec.c: 0 when nothing is retrieved or R = 0;
 *  a ranking shorter than R is divided by R all the same). */
export function rPrecision(j: Judged, level = 1): number {
  const r = numRel(j, level);
  const n = Math.min(j.rels.length, r);
  return n === 0 ? 0 : relRet(j, level, n) / r;
}

/**
 * bpref (m_bpref.c): for each judged relevant retrieved document, 1 - (judged non-relevant ranked
 * above it, capped at R) / min(judged non-relevant, R); summed and divided by R. Documents outside
 * the qrels, and qrels entries with a negative value, are skipped: bpref uses judged documents only.
 */
export function bpref(j: Judged, level = 1): number {
  const r = numRel(j, level);
  let nonrelJudged = 0;
  for (let v = 0; v < Math.min(level, j.counts.length); v++) nonrelJudged += j.counts[v];
  let nonrelSoFar = 0;
  let sum = 0;
  for (const rel of j.rels) {
    if (rel < 0) continue;
    if (rel < level) nonrelSoFar++;
    else sum += nonrelSoFar > 0 ? 1 - Math.min(nonrelSoFar, r) / Math.min(nonrelJudged, r) : 1;
  }
  return r > 0 ? sum / r : sum;
}

/** Relevant documents retrieved as trec_eval's num_rel_ret counts them: JUDGED documents (qrels
 *  value >= 0) at or above the level. The per-rank loops below test `rel >= level` on every rank
 *  instead, so the two differ only for a negative -l, and trec_eval keeps that difference. */
export function numRelRet(j: Judged, level = 1): number {
  let n = 0;
  for (const r of j.rels) if (r >= 0 && r >= level) n++;
  return n;
}

/** C's lround: to nearest, halves away from zero (exact: x - trunc(x) is exact in float64). */
export function lround(x: number): number {
  const t = Math.trunc(x);
  return Math.abs(x - t) >= 0.5 ? t + Math.sign(x) : t;
}

/**
 * The interpolated precision (the best precision at this or any deeper rank) reached when
 * `cuts[c]` relevant documents have been seen, for every c, by m_iprec_at_recall.c's reverse walk;
 * `cuts` must be ascending (equal values allowed). An empty ranking gives NaN where a cut is
 * reachable (trec_eval's 0/0, printed -nan).
 */
function interpolatedAtCounts(j: Judged, cuts: readonly number[], level: number): number[] {
  const out = cuts.map(() => 0);
  const ret = j.rels.length;
  const relRetAll = numRelRet(j, level);
  let c = cuts.length - 1;
  while (c >= 0 && cuts[c] > relRetAll) c--;
  let best = relRetAll / ret;
  let relSoFar = relRetAll;
  for (let i = ret; i > 0 && relSoFar > 0; i--) {
    const p = relSoFar / i;
    if (best < p) best = p;
    if (j.rels[i - 1] >= level) {
      while (c >= 0 && relSoFar === cuts[c]) out[c--] = best;
      relSoFar--;
    }
  }
  while (c >= 0) out[c--] = best;
  return out;
}

/**
 * iprec_at_recall (m_iprec_at_recall.c): interpolated precision at each recall fraction. Since
 * trec_eval 10.0 a fraction p becomes the document count lround(p * R) (9.x used trunc(p * R + 0.9),
 * which differs at e.g. 0.6 of R = 9). Returns one value per fraction, in the order given.
 */
export function interpolatedPrecision(j: Judged, fractions: readonly number[], level = 1): number[] {
  // Ascending order of the fractions, as trec_eval sorts its cutoffs; results go back by index.
  const order = fractions.map((_, i) => i).sort((a, b) => fractions[a] - fractions[b]);
  const r = numRel(j, level);
  const values = interpolatedAtCounts(
    j,
    order.map((i) => lround(fractions[i] * r)),
    level,
  );
  const out = fractions.map(() => 0);
  order.forEach((i, c) => (out[i] = values[c]));
  return out;
}

/** 11pt_avg (m_11pt_avg.c): the mean of the interpolated precisions at the fractions (default
 *  0, 0.1, ..., 1), summed from the last fraction to the first as trec_eval sums them. The fractions
 *  are used in the order given, as trec_eval does (it does not sort this measure's parameters). */
export function elevenPointAverage(j: Judged, fractions: readonly number[], level = 1): number {
  const r = numRel(j, level);
  const values = interpolatedAtCounts(
    j,
    fractions.map((p) => lround(p * r)),
    level,
  );
  let sum = 0;
  for (let c = values.length - 1; c >= 0; c--) sum += values[c];
  return sum / fractions.length;
}

/**
 * Rprec_mult (m_Rprec_mult.c): precision after trunc(m * R + 0.9) documents for each multiple m of
 * R (ascending); a count past the end of the ranking divides num_rel_ret by it. trec_eval 10.0 kept
 * the old +0.9 rule for this measure.
 */
export function rPrecisionMult(j: Judged, multiples: readonly number[], level = 1): number[] {
  const r = numRel(j, level);
  const cuts = multiples.map((m) => Math.trunc(m * r + 0.9));
  const out = cuts.map(() => 0);
  const ret = j.rels.length;
  const relRetAll = numRelRet(j, level);
  let c = cuts.length - 1;
  while (c >= 0 && cuts[c] > ret) {
    out[c] = relRetAll / cuts[c];
    c--;
  }
  let relSoFar = relRetAll;
  for (let i = ret; i > 0 && relSoFar > 0; i--) {
    const p = relSoFar / i;
    while (c >= 0 && i === cuts[c]) out[c--] = p;
    if (j.rels[i - 1] >= level) relSoFar--;
  }
  return out;
}

/** relative_P.k (m_rel_P.c): relevant in the top k over min(k, R); 0 when R = 0. */
export function relativePrecision(j: Judged, k: number, level = 1): number {
  const r = numRel(j, level);
  return r === 0 ? 0 : relRet(j, level, k) / Math.min(k, r);
}

/** success.k (m_success.c): 1 if a relevant document is in the top k, else 0. */
export const success = (j: Judged, k: number, level = 1): number => (relRet(j, level, k) > 0 ? 1 : 0);

/** binG (m_binG.c): each relevant retrieved document scores 1 / log2(2 + non-relevant above it);
 *  the sum over R. */
export function binG(j: Judged, level = 1): number {
  let sum = 0;
  let found = 0;
  for (let i = 0; i < j.rels.length; i++)
    if (j.rels[i] >= level) {
      found++;
      sum += 1 / log2(3 + i - found);
    }
  return found ? sum / numRel(j, level) : 0;
}

/** DCG of the top k with trec_eval's gains: the qrels value itself (> 0 only), over log2(rank + 1). */
export function dcg(j: Judged, k = Infinity): number {
  const n = Math.min(k, j.rels.length);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const gain = j.rels[i];
    if (gain > 0) sum += gain / log2(i + 2);
  }
  return sum;
}

/** Ideal DCG of the top k: ALL judged documents of the query with value > 0, best first, whether
 *  retrieved or not. */
export function idealDcg(j: Judged, k = Infinity): number {
  let sum = 0;
  let i = 0;
  for (let v = j.counts.length - 1; v > 0; v--) {
    for (let c = 0; c < j.counts[v]; c++) {
      if (i >= k) return sum;
      sum += v / log2(i + 2);
      i++;
    }
  }
  return sum;
}

/**
 * ndcg_cut.k (k = Infinity gives trec_eval's ndcg with its default gains): DCG@k / ideal DCG@k,
 * 0 for a query with no document of value > 0. Linear gains (not 2^rel - 1), log2 discount, ideal
 * from every judged document: trec_eval's m_ndcg_cut.c and m_ndcg.c.
 */
export function ndcg(j: Judged, k = Infinity): number {
  const ideal = idealDcg(j, k);
  return ideal > 0 ? dcg(j, k) / ideal : 0;
}
