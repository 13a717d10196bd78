// Measures that tell judged documents from unjudged ones (trec_eval 10.0's m_infap.c,
// m_unjudged.c, m_rbp_resid.c, m_num_nonrel_judged_ret.c, m_relstring.c). A retrieved document
// outside the qrels is NOT_JUDGED (-1) and one the qrels list with a negative value is
// POOL_UNJUDGED (-2), as in ranking.ts.
import { numRelRet, numRel } from "./metrics.ts";
import { NOT_JUDGED, POOL_UNJUDGED, type Judged } from "./ranking.ts";

/** trec_eval's INFAP_EPSILON: keeps infAP's estimate defined when nothing above is judged. */
const INFAP_EPSILON = 0.00001;

/**
 * infAP (Yilmaz and Aslam): at each judged relevant document, 1/(k+1) plus the estimated precision
 * of the k documents above it, where documents outside the pool count as non-relevant and pooled
 * but unjudged ones are assumed relevant in the proportion of the judged ones; summed over R.
 */
export function infAP(j: Judged, level = 1): number {
  let nonrel = 0;
  let rel = 0;
  let unjudged = 0;
  let sum = 0;
  for (let k = 0; k < j.rels.length; k++) {
    const r = j.rels[k];
    if (r === NOT_JUDGED) continue;
    if (r === POOL_UNJUDGED) {
      unjudged++;
      continue;
    }
    if (r >= 0 && r < level) {
      nonrel++;
      continue;
    }
    rel++;
    if (k === 0) sum += 1;
    else
      sum +=
        1 / (k + 1) +
        (k / (k + 1)) *
          ((rel - 1 + nonrel + unjudged) / k) *
          ((rel - 1 + INFAP_EPSILON) / (rel - 1 + nonrel + 2 * INFAP_EPSILON));
  }
  const r = numRel(j, level);
  return r ? sum / r : sum;
}

/** unj.k: the fraction of the top k that is unjudged (outside the qrels or pooled but unjudged);
 *  missing ranks past the end count as judged, so k is always the divisor. */
export function unjudged(j: Judged, k: number): number {
  const n = Math.min(k, j.rels.length);
  let u = 0;
  for (let i = 0; i < n; i++) if (j.rels[i] < 0) u++;
  return u / k;
}

/** rbp_resid: the rank-biased precision the unjudged documents could still add (persistence p =
 *  0.9), plus the weight left past the end of the ranking; 0 when every document is judged. */
export function rbpResidual(j: Judged, p = 0.9): number {
  let sum = 0;
  let weight = 1;
  let unj = 0;
  for (const r of j.rels) {
    if (r < 0) {
      unj++;
      sum += weight;
    }
    weight *= p;
  }
  return unj ? weight + (1 - p) * sum : 0;
}

/** num_nonrel_judged_ret: retrieved documents that are judged and below the level. */
export function numNonrelJudgedRet(j: Judged, level = 1): number {
  let judged = 0;
  for (const r of j.rels) if (r >= 0) judged++;
  return judged - numRelRet(j, level);
}

/** relstring.n: the qrels value of each of the first n documents as one character: the digit,
 *  '>' above 9, '-' outside the qrels, '.' pooled but unjudged. */
export function relString(j: Judged, n = 10): string {
  const len = Math.max(0, Math.min(Math.trunc(n), j.rels.length));
  let s = "";
  for (let i = 0; i < len; i++) {
    const r = j.rels[i];
    s += r > 9 ? ">" : r >= 0 ? String(r) : r === NOT_JUDGED ? "-" : r === POOL_UNJUDGED ? "." : "<";
  }
  return s;
}
