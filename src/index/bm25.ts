// An in-memory inverted index scored exactly like Lucene's BM25Similarity (see bm25-similarity.ts)
// under Pyserini's bag-of-words query: one SHOULD TermQuery per query token, so a term the query
// repeats counts once per occurrence (Lucene's BooleanQuery rewrite merges the duplicates into one
// clause boosted by the count, which is what we do).
//
// Documents are numbered in the order they arrive, as Lucene's doc ids; re-adding an id deletes the
// old document and appends the new one (IndexWriter.updateDocument), and equal scores rank the lower
// number first (TopScoreDocCollector). Deleted documents stay as tombstones in the postings until
// compaction, but the statistics (N, n, sumTotalTermFreq) always count live documents only: our
// scores are those of a Lucene index freshly built from the live documents (Lucene itself keeps
// counting deleted documents in n and N until their segment merges away).
import {
  analyzerConfig,
  checkAnalyzerConfig,
  makeAnalyzer,
  type AnalyzerConfig,
  type AnalyzerOptions,
} from "../text/analyzer.ts";
import { intToByte4 } from "./bm25-norms.ts";
import {
  avgFieldLength,
  bm25Params,
  luceneIdf,
  normInverse,
  normInverseTable,
  termScore,
  termWeight,
  type Bm25Params,
} from "./bm25-similarity.ts";
import { topK } from "./bm25-topk.ts";

const f = Math.fround;

export interface Postings {
  /** Internal document numbers, increasing. */
  docs: number[];
  /** The term's frequency in each of those documents (>= 1). */
  freqs: number[];
}

/** Plain data; change it only through the functions of this module. */
export interface Bm25Index {
  readonly analyzer: AnalyzerConfig;
  readonly params: Bm25Params;
  /** Internal number -> document id; null for a deleted document. */
  ids: (string | null)[];
  /** Token count of each internal document (after analysis). */
  lengths: number[];
  /** Lucene's one-byte norm of each length (intToByte4). */
  norms: number[];
  byId: Map<string, number>;
  postings: Map<string, Postings>;
  /** Live documents with at least one term: Lucene's docCount, the N of idf. */
  docCount: number;
  sumTotalTermFreq: number;
  /** Tombstones still in ids/postings. */
  deleted: number;
}

export interface Bm25IndexOptions {
  analyzer?: AnalyzerConfig | AnalyzerOptions;
  bm25?: Partial<Bm25Params>;
}

export interface Bm25Document {
  id: string;
  text: string;
  /** The document's language (any code analyzerLanguage accepts); none: generic analysis. */
  lang?: string;
}

/** Allowed documents: a set of ids or a predicate on the id. Filtering never changes scores. */
export type Bm25Filter = ReadonlySet<string> | ((id: string) => boolean);

export interface Bm25SearchOptions {
  /** How many hits (default 10). */
  k?: number;
  /** The query's language, for its analysis. */
  lang?: string;
  filter?: Bm25Filter;
}

export interface Bm25Hit {
  id: string;
  /** Lucene's score: a float32 value. */
  score: number;
}

export function createBm25Index(options: Bm25IndexOptions = {}): Bm25Index {
  const a = options.analyzer;
  return {
    analyzer:
      a !== undefined && "version" in a ? checkAnalyzerConfig(a, "analyzer") : analyzerConfig(a ?? {}),
    params: bm25Params(options.bm25),
    ids: [],
    lengths: [],
    norms: [],
    byId: new Map(),
    postings: new Map(),
    docCount: 0,
    sumTotalTermFreq: 0,
    deleted: 0,
  };
}

/** Analyzes and adds documents; an id already present is replaced. */
export function addDocuments(index: Bm25Index, docs: Iterable<Bm25Document>): void {
  const analyzers = new Map<string | undefined, (text: string) => string[]>();
  for (const doc of docs) {
    if (typeof doc !== "object" || doc === null) {
      throw new Error(`BM25 document must be an object with id and text, got ${JSON.stringify(doc)}`);
    }
    checkId(doc.id);
    if (typeof doc.text !== "string") {
      throw new Error(`BM25 document ${JSON.stringify(doc.id)} has no text: give a string "text" field`);
    }
    let analyze = analyzers.get(doc.lang);
    if (analyze === undefined) analyzers.set(doc.lang, (analyze = makeAnalyzer(doc.lang, index.analyzer)));
    addTerms(index, doc.id, analyze(doc.text));
  }
}

export function addDocument(index: Bm25Index, doc: Bm25Document): void {
  addDocuments(index, [doc]);
}

/** Adds a document given as already analysed terms (in order; repeats count). */
export function addTerms(index: Bm25Index, id: string, terms: readonly string[]): void {
  checkId(id);
  if (!Array.isArray(terms))
    throw new Error(`terms of document ${JSON.stringify(id)} must be an array of strings`);
  const tf = new Map<string, number>();
  for (const t of terms) {
    if (typeof t !== "string" || t === "") {
      throw new Error(`document ${JSON.stringify(id)} has an empty or non-string term ${JSON.stringify(t)}`);
    }
    tf.set(t, (tf.get(t) ?? 0) + 1);
  }
  deleteDocument(index, id);
  const doc = index.ids.length;
  index.ids.push(id);
  index.lengths.push(terms.length);
  index.norms.push(intToByte4(terms.length));
  index.byId.set(id, doc);
  for (const [term, freq] of tf) {
    let p = index.postings.get(term);
    if (p === undefined) index.postings.set(term, (p = { docs: [], freqs: [] }));
    p.docs.push(doc);
    p.freqs.push(freq);
  }
  if (terms.length > 0) index.docCount++;
  index.sumTotalTermFreq += terms.length;
}

/** Removes a document; false when the id is not in the index. */
export function deleteDocument(index: Bm25Index, id: string): boolean {
  const doc = index.byId.get(id);
  if (doc === undefined) return false;
  index.byId.delete(id);
  index.ids[doc] = null;
  const length = index.lengths[doc];
  if (length > 0) index.docCount--;
  index.sumTotalTermFreq -= length;
  index.deleted++;
  // Tombstones cost memory and scan time; drop them once they outnumber the live documents.
  if (index.deleted > 1024 && index.deleted > index.byId.size) compactBm25(index);
  return true;
}

export function hasDocument(index: Bm25Index, id: string): boolean {
  return index.byId.has(id);
}

/** Live documents, the empty ones (no terms after analysis) included. */
export function documentCount(index: Bm25Index): number {
  return index.byId.size;
}

export interface Bm25Stats {
  documents: number;
  docCount: number;
  sumTotalTermFreq: number;
  avgdl: number;
  terms: number;
}

export function bm25Stats(index: Bm25Index): Bm25Stats {
  let terms = 0;
  for (const p of index.postings.values()) if (docFreq(index, p) > 0) terms++;
  return {
    documents: index.byId.size,
    docCount: index.docCount,
    sumTotalTermFreq: index.sumTotalTermFreq,
    avgdl: index.docCount > 0 ? avgFieldLength(index.sumTotalTermFreq, index.docCount) : 0,
    terms,
  };
}

/** Analyzes the query in its language and returns the top k documents. */
export function searchBm25(index: Bm25Index, query: string, options: Bm25SearchOptions = {}): Bm25Hit[] {
  if (typeof query !== "string") throw new Error(`BM25 query must be a string, got ${typeof query}`);
  return searchTerms(index, makeAnalyzer(options.lang, index.analyzer)(query), options);
}

/** The top k documents for already analysed query terms (a repeated term weighs once per repeat). */
export function searchTerms(
  index: Bm25Index,
  terms: readonly string[],
  options: Bm25SearchOptions = {},
): Bm25Hit[] {
  const k = checkK(options.k);
  const allowed = filterOf(options.filter);
  if (index.docCount === 0) return [];

  const boosts = new Map<string, number>();
  for (const t of terms) boosts.set(t, (boosts.get(t) ?? 0) + 1);

  const { k1, b } = index.params;
  const exact = index.params.lengths === "exact";
  const avgdl = avgFieldLength(index.sumTotalTermFreq, index.docCount);
  const table = exact ? null : normInverseTable(k1, b, avgdl);
  const { ids, lengths, norms } = index;
  // Lucene sums the clauses' float scores in a double and rounds the total to float once.
  const acc = new Float64Array(ids.length);
  const touched: number[] = [];
  for (const [term, boost] of boosts) {
    const p = index.postings.get(term);
    if (p === undefined) continue;
    const n = docFreq(index, p);
    if (n === 0) continue;
    const weight = termWeight(boost, luceneIdf(n, index.docCount));
    const { docs, freqs } = p;
    for (let j = 0; j < docs.length; j++) {
      const d = docs[j];
      if (ids[d] === null) continue;
      const inv = table !== null ? table[norms[d]] : normInverse(k1, b, lengths[d], avgdl);
      // Every contribution is > 0 (idf > 0, freq >= 1), so a zero sum means "not seen yet".
      if (acc[d] === 0) touched.push(d);
      acc[d] += termScore(weight, freqs[j], inv);
    }
  }
  const candidates = allowed === null ? touched : touched.filter((d) => allowed(ids[d]!));
  return topK(candidates, (d) => f(acc[d]), k).map((d) => ({ id: ids[d]!, score: f(acc[d]) }));
}

/** One part of a query: its analysed terms and the documents they are scored against. */
export interface Bm25QueryPart {
  terms: readonly string[];
  filter?: Bm25Filter;
}

/**
 * The top k over several query parts, each scored against its own documents: a query read in each
 * language of a multilingual index, part i scoring only language i's documents. Each part is an
 * ordinary searchTerms over the whole index (its statistics: N, df and avgdl of every live
 * document), so a document's score is exactly what searchTerms gives its part alone, and the lists
 * merge by score, equal scores to the lower document number as within one list. Parts' filters
 * should not overlap; a document two parts match keeps its better score.
 */
export function searchParts(
  index: Bm25Index,
  parts: readonly Bm25QueryPart[],
  options: Pick<Bm25SearchOptions, "k"> = {},
): Bm25Hit[] {
  const k = checkK(options.k);
  if (parts.length === 1) return searchTerms(index, parts[0].terms, { k, filter: parts[0].filter });
  const best = new Map<number, number>();
  for (const part of parts) {
    for (const h of searchTerms(index, part.terms, { k, filter: part.filter })) {
      const d = index.byId.get(h.id)!;
      const seen = best.get(d);
      if (seen === undefined || h.score > seen) best.set(d, h.score);
    }
  }
  return topK([...best.keys()], (d) => best.get(d)!, k).map((d) => ({
    id: index.ids[d]!,
    score: best.get(d)!,
  }));
}

/** Drops tombstones and renumbers documents, keeping their order (and so every score and tie). */
export function compactBm25(index: Bm25Index): void {
  if (index.deleted === 0) return;
  const remap = new Int32Array(index.ids.length).fill(-1);
  const ids: string[] = [];
  const lengths: number[] = [];
  const norms: number[] = [];
  index.ids.forEach((id, d) => {
    if (id === null) return;
    remap[d] = ids.length;
    index.byId.set(id, ids.length);
    ids.push(id);
    lengths.push(index.lengths[d]);
    norms.push(index.norms[d]);
  });
  for (const [term, p] of index.postings) {
    const docs: number[] = [];
    const freqs: number[] = [];
    for (let j = 0; j < p.docs.length; j++) {
      const d = remap[p.docs[j]];
      if (d < 0) continue;
      docs.push(d);
      freqs.push(p.freqs[j]);
    }
    if (docs.length === 0) index.postings.delete(term);
    else index.postings.set(term, { docs, freqs });
  }
  index.ids = ids;
  index.lengths = lengths;
  index.norms = norms;
  index.deleted = 0;
}

/** Documents holding the term, deleted ones left out. */
export function docFreq(index: Bm25Index, p: Postings): number {
  if (index.deleted === 0) return p.docs.length;
  let n = 0;
  for (const d of p.docs) if (index.ids[d] !== null) n++;
  return n;
}

function checkK(k: number = 10): number {
  if (!Number.isInteger(k) || k < 1)
    throw new Error(`k must be a positive integer, got ${JSON.stringify(k)}`);
  return k;
}

function filterOf(filter: Bm25Filter | undefined): ((id: string) => boolean) | null {
  if (filter === undefined) return null;
  if (typeof filter === "function") return filter;
  if (filter instanceof Set) return (id) => filter.has(id);
  throw new Error("BM25 filter must be a Set of allowed ids or a function (id) => boolean");
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== "string" || id === "") {
    throw new Error(`BM25 document id must be a non-empty string, got ${JSON.stringify(id)}`);
  }
}
