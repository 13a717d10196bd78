// The plain shapes every evaluation dataset loads into, so runners, metrics and reports never see
// a dataset's own file format. Ids are strings everywhere (TREC run and qrels files are text).

/** A retrievable unit: a BEIR document, an XQuAD-R sentence. `title` is kept apart from `text`
 *  because encoders join them differently (BEIR prepends it, some models ignore it). */
export interface Doc {
  id: string;
  text: string;
  title?: string;
  lang?: string;
}

export interface Query {
  id: string;
  text: string;
  lang?: string;
}

/** query id -> doc id -> graded relevance (trec_eval's qrels: 0 = judged not relevant). */
export type Qrels = Map<string, Map<string, number>>;

export interface RetrievalTask {
  corpus: Doc[];
  queries: Query[];
  qrels: Qrels;
}

/** Two line-aligned sides: tgt[i] is the translation of src[i]; gold is the same index. */
export interface Bitext {
  src: string[];
  tgt: string[];
  srcLang: string;
  tgtLang: string;
}
