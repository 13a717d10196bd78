// One query's ranking as trec_eval 10.0 forms it (form_res_rels.c), including what ranking.ts's
// judge() cannot see: a document listed twice. trec_eval sorts every line of the query, cuts at -M,
// and only then refuses a document that appears twice in what is left; so duplicates past the cut
// (or in queries it never evaluates) are allowed.
import { compareIds, NOT_JUDGED, POOL_UNJUDGED, relevanceCounts, type Judged } from "./ranking.ts";

/**
 * Judge a ranking given as (document, score) entries: sorted by score descending, ties by document
 * id descending, cut to maxDocs; each document looked up in the qrels. Throws when a document is
 * listed twice within the cut, as trec_eval does ("duplicate docs").
 */
export function judgeEntries(
  entries: readonly (readonly [string, number])[],
  judgments: ReadonlyMap<string, number>,
  maxDocs: number,
  where: string,
): Judged {
  const ranked = [...entries].sort(([a, sa], [b, sb]) => (sa > sb ? -1 : sa < sb ? 1 : compareIds(b, a)));
  const n = Math.min(ranked.length, maxDocs);
  const seen = new Set<string>();
  const rels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const doc = ranked[i][0];
    if (seen.has(doc))
      throw new Error(
        `${where}: document '${doc}' is listed twice within the evaluated ranking (trec_eval: "duplicate docs"); keep one line per query and document`,
      );
    seen.add(doc);
    const r = judgments.get(doc);
    rels[i] = r === undefined ? NOT_JUDGED : r < 0 ? POOL_UNJUDGED : r;
  }
  return { rels, counts: relevanceCounts(judgments) };
}
