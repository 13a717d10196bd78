// The unranked ("set") measures of trec_eval 10.0: the retrieved documents taken as one set
// (m_set_P.c, m_set_recall.c, m_set_rel_P.c, m_set_map.c, m_set_F.c, m_utility.c). They count
// relevant retrieved documents as trec_eval's num_rel_ret does (judged ones only).
import { numRel, numRelRet, numRet } from "./metrics.ts";
import type { Judged } from "./ranking.ts";

/** set_P: relevant retrieved over retrieved (0 when nothing is retrieved). */
export function setPrecision(j: Judged, level = 1): number {
  const ret = numRet(j);
  return ret ? numRelRet(j, level) / ret : 0;
}

/** set_recall: relevant retrieved over R (0 when R = 0). */
export function setRecall(j: Judged, level = 1): number {
  const r = numRel(j, level);
  return r ? numRelRet(j, level) / r : 0;
}

/** set_relative_P: relevant retrieved over min(retrieved, R). */
export function setRelativePrecision(j: Judged, level = 1): number {
  const ret = numRet(j);
  const r = numRel(j, level);
  return ret && r ? numRelRet(j, level) / Math.min(ret, r) : 0;
}

/** set_map: set_P * set_recall, computed as trec_eval does (rr * rr) / (ret * R). */
export function setMap(j: Judged, level = 1): number {
  const ret = numRet(j);
  const r = numRel(j, level);
  const rr = numRelRet(j, level);
  return ret && r ? (rr * rr) / (ret * r) : 0;
}

/** set_F.beta: (beta + 1) P R / (beta P + R), trec_eval's form of the F measure (default beta 1);
 *  0 when nothing relevant is retrieved. */
export function setF(j: Judged, beta = 1, level = 1): number {
  const rr = numRelRet(j, level);
  if (!rr) return 0;
  const p = rr / numRet(j);
  const r = rr / numRel(j, level);
  return ((beta + 1) * p * r) / (beta * p + r);
}

/**
 * utility.a,b,c,d: a per relevant retrieved + b per non-relevant retrieved + c per relevant missed
 * + d per non-relevant missed (default 1,-1,0,0). The collection size is trec_eval's -N, which xlir
 * does not take: 0, trec_eval's default.
 */
export function utility(j: Judged, coefficients: readonly number[], level = 1): number {
  const [a, b, c, d] = coefficients;
  const rr = numRelRet(j, level);
  const ret = numRet(j);
  const r = numRel(j, level);
  const collection = 0;
  return a * rr + b * (ret - rr) + c * (r - rr) + d * (collection + rr - ret - r);
}
