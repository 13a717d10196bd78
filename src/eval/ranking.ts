// The ranking trec_eval evaluates (its form_res_rels.c): a query's retrieved documents sorted by
// score, each looked up in the qrels. Every measure in metrics.ts reads only this plain record.

/** Relevance stored for a retrieved document that is not in the qrels of its query. */
export const NOT_JUDGED = -1;
/** Relevance stored for a retrieved document the qrels list with a negative value ("in the pool but
 *  unjudged"; infAP-style qrels use -1 for it). trec_eval keeps the two apart for bpref. */
export const POOL_UNJUDGED = -2;

export interface Judged {
  /** Relevance of the document at each rank (index 0 = rank 1): the qrels value (>= 0), or
   *  NOT_JUDGED / POOL_UNJUDGED. Its length is the number retrieved (after maxDocs). */
  rels: Int32Array;
  /** counts[v] = number of documents the qrels judge with relevance v (v >= 0), retrieved or not.
   *  Index 0 counts judged non-relevant documents; the array ends at the highest value present. */
  counts: number[];
}

/**
 * trec_eval's string order (strcmp on UTF-8 bytes) = Unicode code point order. JS `<` compares
 * UTF-16 code units, which differs only where a surrogate pair (code point >= U+10000) meets a code
 * unit in U+E000..U+FFFF; moving the surrogates above that range restores code point order.
 */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The document ids of one query in trec_eval's rank order: score descending, ties broken by
 * document id DESCENDING (comp_sim_docno returns strcmp(p2->docno, p1->docno)). The rank column of
 * the run file plays no part, exactly as in trec_eval.
 */
export function rankDocs(scores: ReadonlyMap<string, number>): string[] {
  const docs = [...scores];
  // Compared, not subtracted: Infinity - Infinity would be NaN.
  docs.sort(([a, sa], [b, sb]) => (sa > sb ? -1 : sa < sb ? 1 : compareIds(b, a)));
  return docs.map(([id]) => id);
}

/**
 * Judge one query's ranking against its qrels. `maxDocs` is trec_eval's -M: only the first maxDocs
 * documents of the sorted ranking count (the qrels counts do not change). A query missing from the
 * run is an empty `scores` map (what trec_eval -c evaluates for it).
 */
export function judge(
  scores: ReadonlyMap<string, number>,
  judgments: ReadonlyMap<string, number>,
  maxDocs = Infinity,
): Judged {
  const ranked = rankDocs(scores);
  const n = Math.min(ranked.length, maxDocs);
  const rels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = judgments.get(ranked[i]);
    rels[i] = r === undefined ? NOT_JUDGED : r < 0 ? POOL_UNJUDGED : r;
  }
  return { rels, counts: relevanceCounts(judgments) };
}

/** How many documents the qrels judge at each relevance value 0, 1, 2, ... (negative ones left out). */
export function relevanceCounts(judgments: ReadonlyMap<string, number>): number[] {
  const counts: number[] = [];
  for (const r of judgments.values()) {
    if (r < 0) continue;
    while (counts.length <= r) counts.push(0);
    counts[r]++;
  }
  return counts;
}
