// Graded measures that walk the ideal ranking level by level with trec_eval's default gains (the
// qrels value is the gain: m_ndcg_rel.c, m_Rndcg.c, m_G.c, m_rbp.c; gain_init.c). The walks keep
// trec_eval's order of operations so the float64 results agree with it.
import { log2 } from "./libm.ts";
import { numRel } from "./metrics.ts";
import type { Judged } from "./ranking.ts";

/** Gain of a retrieved document: its qrels value; 0 for one outside the qrels or unjudged. */
const gainOf = (j: Judged, rank: number): number => {
  const r = j.rels[rank];
  return r >= 0 && r < j.counts.length ? r : 0;
};

/**
 * The ideal ranking's gains one position at a time: every judged document, highest value first
 * (levels with no document skipped), then 0 for ever. `next()` returns the gain of the next ideal
 * position (trec_eval's cur_level / num_at_level walk).
 */
function idealGains(j: Judged): { first: number; next: () => number } {
  let level = j.counts.length - 1;
  let atLevel = 0;
  const first = level >= 0 ? level : 0;
  return {
    first,
    next() {
      atLevel++;
      while (level >= 0 && atLevel > j.counts[level]) {
        atLevel = 1;
        level--;
      }
      return level >= 0 ? level : 0;
    },
  };
}

/** ndcg_rel: nDCG averaged over the ranks of the relevant documents (gain > 0), a relevant
 *  document not retrieved contributing the final nDCG; 0 when nothing relevant is judged. */
export function ndcgRel(j: Judged): number {
  const ideal = idealGains(j);
  let idealGain = ideal.first;
  let dcg = 0;
  let idealDcg = 0;
  let sum = 0;
  let relRet = 0;
  let rel = 0;
  let i = 0;
  for (; i < j.rels.length && idealGain > 0; i++) {
    const g = gainOf(j, i);
    if (g !== 0) dcg += g / log2(i + 2);
    idealGain = ideal.next();
    if (idealGain > 0) {
      rel++;
      idealDcg += idealGain / log2(i + 2);
    }
    if (g > 0) {
      sum += dcg / idealDcg;
      relRet++;
    }
  }
  for (; i < j.rels.length; i++) {
    const g = gainOf(j, i);
    if (g !== 0) dcg += g / log2(i + 2);
    if (g > 0) {
      sum += dcg / idealDcg;
      relRet++;
    }
  }
  for (; idealGain > 0; i++) {
    idealGain = ideal.next();
    if (idealGain > 0) {
      rel++;
      idealDcg += idealGain / log2(i + 2);
    }
  }
  sum += ((rel - relRet) * dcg) / idealDcg; // NaN when nothing is relevant: then 0 below
  return sum > 0 ? sum / rel : 0;
}

/**
 * Rndcg: nDCG taken wherever the ideal ranking moves to a lower gain (and at the end of the
 * ranking), averaged. 0 when the query has no relevant document at the level; NaN (trec_eval's
 * -nan) when no such point exists.
 */
export function rndcg(j: Judged, level = 1): number {
  if (numRel(j, level) === 0) return 0;
  const ideal = idealGains(j);
  let idealGain = ideal.first;
  let oldGain = idealGain;
  let points = 0;
  let dcg = 0;
  let idealDcg = 0;
  let sum = 0;
  let i = 0;
  const boundary = () => {
    if (oldGain !== idealGain) {
      if (idealDcg > 0) {
        sum += dcg / idealDcg;
        points++;
      }
      oldGain = idealGain;
    }
  };
  for (; i < j.rels.length && idealGain > 0; i++) {
    const g = gainOf(j, i);
    idealGain = ideal.next();
    boundary();
    if (g !== 0) dcg += g / log2(i + 2);
    if (idealGain > 0) idealDcg += idealGain / log2(i + 2);
  }
  if (i < j.rels.length) {
    for (; i < j.rels.length; i++) {
      const g = gainOf(j, i);
      if (g !== 0) dcg += g / log2(i + 2);
    }
    if (idealDcg > 0) {
      sum += dcg / idealDcg;
      points++;
    }
  }
  for (; idealGain > 0; i++) {
    idealGain = ideal.next();
    boundary();
    if (idealGain > 0) idealDcg += idealGain / log2(i + 2);
  }
  return sum / points;
}

/**
 * G (m_G.c): a gain-weighted measure that discounts each document by log2(2 + the gain the ideal
 * ranking has gathered so far, floored at one per rank, minus the gain gathered), over the ideal
 * ranking's total gain.
 */
export function gMeasure(j: Judged): number {
  const ideal = idealGains(j);
  let idealGain = ideal.first;
  let gained = 0;
  let idealSum = 0;
  let cost = 0;
  let g = 0;
  const minCost = 1;
  let i = 0;
  for (; i < j.rels.length && idealGain > 0; i++) {
    const gain = gainOf(j, i);
    gained += gain;
    idealGain = ideal.next();
    if (idealGain > 0) idealSum += idealGain;
    cost += idealGain >= minCost ? idealGain : minCost;
    if (gain !== 0) g += gain / log2(2 + cost - gained);
  }
  for (; i < j.rels.length; i++) {
    const gain = gainOf(j, i);
    gained += gain;
    cost += minCost;
    if (gain !== 0) g += gain / log2(2 + cost - gained);
  }
  while (idealGain > 0) {
    idealGain = ideal.next();
    if (idealGain > 0) idealSum += idealGain;
  }
  return idealSum > 0 ? g / idealSum : 0;
}

/**
 * rbp: rank-biased precision (Moffat and Zobel) with persistence p = 0.9: (1 - p) times the sum of
 * gain * p^(rank - 1). Gains above 1 are scaled into [0, 1] by the query's highest value, as trec_eval
 * does.
 */
export function rbp(j: Judged, p = 0.9): number {
  // The gains are the levels 0 .. counts.length - 1; trec_eval rescales (g - min) / (max - min)
  // when one lies outside [0, 1], which with these gains is g / max.
  const max = j.counts.length - 1;
  const scale = max > 1 ? max : 1;
  let sum = 0;
  let weight = 1;
  for (let i = 0; i < j.rels.length; i++) {
    const gain = gainOf(j, i) / scale;
    if (gain !== 0) sum += gain * weight;
    weight *= p;
  }
  return (1 - p) * sum;
}
