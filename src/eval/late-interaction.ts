// Evaluation of a ColBERT(-XM) model: each query's token vectors against every document's by exact
// MaxSim (no PLAID index: a model's numbers never depend on an index's recall, as for dense models).
// Each set's language picks the X-MOD adapter (the model's default when the set has none). Document
// sets are encoded once per run and kept until the last setting that reads them, like embeddings
// (not cached on disk: token vectors are ~30-200 times an embedding's size).
import type { ColbertModel, TokenVectors } from "../encode/colbert.ts";
import { exactMaxSim, packDocuments, type TokenMatrix } from "../index/multi-vector.ts";
import { compareIds } from "./ranking.ts";
import type { Setting, TextSet } from "./tasks/task.ts";

export interface LateRanker {
  /** Per query of the setting (in order): its `depth` best documents, id -> MaxSim score. */
  rank(s: Setting, depth: number): Promise<Map<string, number>[]>;
  /** Forget a set's vectors (no later setting reads it). */
  drop(set: TextSet): void;
  close(): Promise<void>;
}

export function lateRanker(
  model: ColbertModel,
  onProgress?: (label: string, done: number, total: number) => void,
): LateRanker {
  const docCache = new Map<TextSet, TokenMatrix>();
  const encode = async (set: TextSet, role: "query" | "document"): Promise<TokenVectors[]> => {
    onProgress?.(`encoding ${set.source}`, 0, set.texts.length);
    const out =
      role === "query"
        ? await model.encodeQueries(set.texts, { lang: set.lang })
        : await model.encodeDocuments(set.texts, { lang: set.lang });
    onProgress?.(`encoding ${set.source}`, set.texts.length, set.texts.length);
    return out;
  };
  return {
    async rank(s, depth) {
      const docs: TokenMatrix[] = [];
      for (const set of s.docs) {
        let m = docCache.get(set);
        if (!m) docCache.set(set, (m = packDocuments(await encode(set, "document"), model.dim)));
        docs.push(m);
      }
      const docIds = s.docs.flatMap((set) => set.ids);
      const lists: Map<string, number>[] = [];
      for (const set of s.queries)
        for (const q of await encode(set, "query")) {
          const scores = docs.flatMap((m) => [...exactMaxSim(q, m)]);
          const order = scores
            .map((_, i) => i)
            .sort((a, b) => scores[b] - scores[a] || compareIds(docIds[b], docIds[a]))
            .slice(0, depth);
          lists.push(new Map(order.map((i) => [docIds[i], scores[i]])));
        }
      return lists;
    },
    drop(set) {
      docCache.delete(set);
    },
    close: () => model.close(),
  };
}
