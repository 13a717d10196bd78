// Searching a collection: dense (exact over every chunk vector, or through the ANN index), BM25 over
// the chunks, or both fused (RRF or weighted min-max). Chunk scores become document scores by the
// collection's doc score (max, or sum of the top chunks); each hit carries its best chunk's text.
//
// The query's language. Given (--lang xx), BM25 analyses the query in it, and NLLB-style encoders
// get it. Under "auto" the detector decides, but a word or three is too little to tell a language
// by ("diabetes" reads as Dutch, "city" as Tagalog: see src/text/langid.ts), and a wrong guess
// means a wrong stemmer, so the query silently misses the documents it names. When the detector is
// not confident, BM25 reads the query in every language of the documents searched instead: the
// query analysed in language L is scored against L's documents only, over the one BM25 index and
// its collection-wide statistics (not a separate BM25 per language), so every document scores
// exactly what `--lang L` gives it, and the per-language lists merge by score (bm25.ts
// searchParts). Scores of different languages compare as well as they do under one `--lang` over
// a multilingual collection: same idf scale and length norms. Chosen over BM25 per language
// (statistics of L's documents alone) because that would change the scores `--lang L` gives.
// A confident guess (enough words, a reliable answer) is used alone, as a given language.
// Dense search needs no analysis: the encoder gets the detected language either way.
import { makeAnalyzer } from "../text/analyzer.ts";
import { DEFAULT_NLLB_LANG } from "../text/nllb-input.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import {
  asGuesser,
  type LanguageDetector,
  type LanguageGuess,
  type LanguageGuesser,
  loadLanguageGuesser,
  UNDETERMINED,
} from "../text/langid.ts";
import { encodedLang } from "./agg-vocab.ts";
import type { AggTarget } from "../encode/aggretriever.ts";
import { type Bm25QueryPart, searchParts } from "./bm25.ts";
import type { Collection, CollectionView } from "./collection.ts";
import { type ChunkScore, type DocHit, type DocScore, docsFromChunks } from "./doc-score.ts";
import { dotAll, normalizeRows } from "./exact-search.ts";
import {
  annotate,
  type Bm25Run,
  type DenseRun,
  type ExplainInput,
  type Highlight,
  type HitExplain,
  tokenMatchesOf,
} from "./explain.ts";
import { maxSim } from "../encode/colbert.ts";
import { allowedDocs, type Filter, parseFilters } from "./filter.ts";
import { chunkTokens, scoreTokenChunks } from "./token-vectors.ts";
import { reciprocalRankFusion, weightedFusion } from "./fusion.ts";

export type SearchMode = "dense" | "bm25" | "hybrid";
export type FusionMethod = "rrf" | "weighted";

export interface SearchOptions {
  /** Default: dense for dense collections, bm25 for lexical ones. */
  mode?: SearchMode;
  /** Documents to return (default 10). */
  k?: number;
  /** The query's language: a code, "auto" (detect), or none (generic BM25 analysis, NLLB eng_Latn). */
  lang?: string;
  /** Conditions on language and metadata (parsed, or --filter expressions). */
  filter?: Filter | readonly string[];
  /** How hybrid mode fuses (default rrf). */
  fusion?: FusionMethod;
  /** Weight of the dense list in weighted fusion (default 0.5; BM25 gets 1 - weight). */
  weight?: number;
  /** Documents taken from each list before fusing (default max(k, 100)). */
  depth?: number;
  /** Overrides the collection's document score. */
  docScore?: DocScore;
  /** true: ANN index; false: exact; "auto" (default): ANN when there is an index and enough chunks. */
  ann?: boolean | "auto";
  /** IVF-PQ: partitions to probe (default 20) and refine factor (default 10: re-rank 10k candidates exactly). */
  nprobes?: number;
  refineFactor?: number;
  /**
   * HNSW: candidate list size (default: the store's, at least the chunks fetched: 50 for LanceDB's
   * HNSW-SQ, 100 for pgvector). PLAID (ColBERT): documents re-scored (default 2048).
   */
  ef?: number;
  /**
   * A detector to reuse for lang "auto" (default: loadLanguageGuesser's, loaded on demand); a plain
   * LanguageDetector is trusted from MIN_CONFIDENT_WORDS words up.
   */
  detector?: LanguageGuesser | LanguageDetector;
  /**
   * Aggretriever collections in target mode: whose token set encodes the query: its own language's
   * (default), the documents' searched (they must be in one language), or English's.
   */
  aggTarget?: AggTarget;
  /**
   * Give each hit `explain`: its score and rank in each list searched, BM25's per-term
   * contributions, and the fusion's parts (default false). Costs a little: off the search path.
   */
  explain?: boolean;
  /**
   * Give each hit `highlights` in its text: the words matching the query's BM25 terms (bm25, hybrid)
   * and the sentence nearest the query (dense, hybrid: its sentences are embedded, one batch for
   * all hits) (default false).
   */
  highlight?: boolean;
}

export interface SearchHit {
  rank: number;
  id: string;
  score: number;
  lang: string;
  /** The languages the query was read in for this search (the same on every hit: SearchResult.queryLangs). */
  queryLangs: string[];
  title: string | null;
  /** The best chunk's passage. */
  text: string;
  chunk: { index: number; start: number; end: number };
  metadata: Record<string, unknown>;
  /** The document's score in each list (hybrid). */
  dense?: number;
  bm25?: number;
  /** Why it scored what it did (SearchOptions.explain). */
  explain?: HitExplain;
  /** The spans of `text` that matched, in order (SearchOptions.highlight). */
  highlights?: Highlight[];
}

export interface SearchResult {
  hits: SearchHit[];
  /**
   * The languages the query was read in. BM25 and hybrid: the languages it was analysed in, one
   * unless lang "auto" was unsure, then each language of the documents searched (each scoring its
   * own documents). Dense: the one language the encoder was given (or "und": eng_Latn for NLLB).
   */
  queryLangs: string[];
  /** The detector's answer under lang "auto"; null when the caller named the language (or none). */
  detected: LanguageGuess | null;
  /** BM25 and hybrid: the languages in which the query analysed to no terms (stop words only). */
  emptyLangs: string[];
  /** BM25 and hybrid: no term left in any language used, so BM25 matched nothing: warn the user. */
  emptyQuery: boolean;
  /** One line for the user when the query's words were lost to analysis (stop words), else null. */
  warning: string | null;
}

/** The resolved query language (NLLB code or "und"). */
export async function queryLanguage(
  query: string,
  lang: string | undefined,
  detector?: LanguageGuesser | LanguageDetector,
): Promise<string> {
  return (await readQueryLanguage(query, lang, detector)).lang;
}

/** The query's language (NLLB code or "und"), and the detector's guess when lang is "auto". */
async function readQueryLanguage(
  query: string,
  lang: string | undefined,
  detector?: LanguageGuesser | LanguageDetector,
): Promise<{ lang: string; detected: LanguageGuess | null }> {
  if (lang === undefined || lang.toLowerCase() === UNDETERMINED)
    return { lang: UNDETERMINED, detected: null };
  if (lang === "auto") {
    const detected = (detector ? asGuesser(detector) : await loadLanguageGuesser())(query);
    return { lang: detected.lang, detected };
  }
  return { lang: resolveNllbLang(lang), detected: null };
}

/** The ranked documents (searchDetailed without the facts about the query). */
export async function search(col: Collection, query: string, opts: SearchOptions = {}): Promise<SearchHit[]> {
  return (await searchDetailed(col, query, opts)).hits;
}

/** The ranked documents, the languages the query was read in, and whether BM25 found no words in it. */
export async function searchDetailed(
  col: Collection,
  query: string,
  opts: SearchOptions = {},
): Promise<SearchResult> {
  if (typeof query !== "string" || query.trim() === "")
    throw new Error("the query is empty: give some words to search for");
  const k = opts.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new Error(`--k must be a positive integer, got ${k}`);
  const mode = opts.mode ?? (col.neural ? "dense" : "bm25");
  if (mode !== "bm25" && !col.neural) {
    throw new Error(`collection "${col.name}" is lexical only (built with --model bm25): use --mode bm25`);
  }
  const filter: Filter = isParsed(opts.filter) ? opts.filter : parseFilters(opts.filter ?? []);
  const { lang, detected } = await readQueryLanguage(query, opts.lang, opts.detector);
  // unsure of the language ("und" included): read the query in each of the documents' languages
  const perLanguage = detected !== null && !detected.confident;
  const agg = opts.docScore ?? col.manifest.docScore;
  const depth = mode === "hybrid" ? Math.max(k, opts.depth ?? 100) : k;

  let hits: { doc: number; chunk: number; score: number; dense?: number; bm25?: number }[];
  let view: CollectionView;
  let read: QueryReading = { queryLangs: [lang], emptyLangs: [] };
  // what explain and highlight read back: the lists as searched
  let denseRun: DenseRun | undefined;
  let bm25Run: Bm25Run | undefined;
  let fusion: ExplainInput["fusion"];
  if (mode === "dense") {
    ({ view, hits, run: denseRun } = await denseDocs(col, query, lang, filter, agg, depth, opts));
  } else if (mode === "bm25") {
    view = await col.view(false);
    const bm25 = await bm25Docs(col, view, query, lang, perLanguage, filter, agg, depth);
    ({ hits, run: bm25Run, ...read } = bm25);
  } else {
    const dense = await denseDocs(col, query, lang, filter, agg, depth, opts);
    view = dense.view;
    denseRun = dense.run;
    const bm25 = await bm25Docs(col, view, query, lang, perLanguage, filter, agg, depth);
    const { hits: lexical, run, ...reading } = bm25;
    read = reading;
    bm25Run = run;
    const id = (h: DocHit) => String(h.doc);
    const lists = [dense.hits, lexical].map((l) => l.map((h) => ({ id: id(h), score: h.score })));
    const method = opts.fusion ?? "rrf";
    const fused =
      method === "rrf"
        ? reciprocalRankFusion(lists)
        : weightedFusion(lists, [opts.weight ?? 0.5, 1 - (opts.weight ?? 0.5)]);
    fusion = { method, items: fused };
    const chunkOf = new Map([...lexical, ...dense.hits].map((h) => [h.doc, h.chunk])); // dense's chunk wins
    hits = fused.map((f) => ({
      doc: Number(f.id),
      chunk: chunkOf.get(Number(f.id))!,
      score: f.score,
      dense: f.parts[0],
      bm25: f.parts[1],
    }));
  }
  const emptyQuery =
    mode !== "dense" && read.queryLangs.length > 0 && read.emptyLangs.length === read.queryLangs.length;
  const top = hits.slice(0, k);
  const described = await describe(col, view, top, read.queryLangs);
  if (opts.explain || opts.highlight) {
    const refs = top.map((h, i) => ({ doc: h.doc, chunk: h.chunk, text: described[i].text }));
    const run = { view, docScore: agg, dense: denseRun, bm25: bm25Run, fusion };
    const notes = await annotate(refs, run, { explain: !!opts.explain, highlight: !!opts.highlight });
    notes.forEach((n, i) => Object.assign(described[i], n));
  }
  return {
    hits: described,
    queryLangs: read.queryLangs,
    detected,
    emptyLangs: read.emptyLangs,
    emptyQuery,
    warning: emptyWarning(emptyQuery, read, detected),
  };
}

function emptyWarning(
  emptyQuery: boolean,
  read: QueryReading,
  detected: LanguageGuess | null,
): string | null {
  const words = `the query has no words to search for in ${read.emptyLangs.join(", ")} (only stop words?)`;
  if (emptyQuery) return `${words}: BM25 matched nothing`;
  // read in several languages, and empty in the one it most looks like: the rest matched by chance
  if (detected !== null && read.emptyLangs.includes(detected.lang)) {
    return `${words}: BM25 matched its words as the other languages of the collection only`;
  }
  return null;
}

/** The languages BM25 read the query in, and those of them it found no terms in. */
interface QueryReading {
  queryLangs: string[];
  emptyLangs: string[];
}

function isParsed(f: SearchOptions["filter"]): f is Filter {
  return Array.isArray(f) && f.every((c) => typeof c === "object");
}

async function denseDocs(
  col: Collection,
  query: string,
  lang: string,
  filter: Filter,
  agg: DocScore,
  depth: number,
  opts: SearchOptions,
): Promise<{ view: CollectionView; hits: DocHit[]; run: DenseRun }> {
  if (col.multiVector) return lateDocs(col, query, lang, filter, agg, depth, opts);
  const enc = await col.encoder();
  let view = await col.view(false);
  const allowed = allowedDocs(filter, view.docs.langs, view.docs.metadata);
  const encLang =
    enc.aggMode === "target"
      ? aggQueryLang(col, lang, opts.aggTarget ?? "query", documentLanguages(view.docs.langs, allowed))
      : encodedLang(lang);
  const q = (await enc.embed([query], { role: "query", lang: encLang })).data;
  if (col.cosine) normalizeRows(q, q.length);
  const scoreTexts = async (texts: readonly string[], langs: readonly string[]) => {
    const emb = await enc.embed(texts, { role: "passage", lang: langs });
    if (col.cosine) normalizeRows(emb.data, emb.dims[1]);
    return dotAll(emb.data, emb.dims[1], q);
  };
  const m = col.manifest;
  const useAnn = usesIndex(col, view, opts.ann);
  if (!useAnn && !col.store.exactSearch) {
    view = await col.view(true);
    const { chunkDoc } = view;
    const { searchDocs, sharedScanSearch } = await import("./scan-search.ts"); // ONNX Runtime: dense only
    const found = await searchDocs(
      await sharedScanSearch(),
      view.vectors!,
      q,
      chunkDoc,
      view.docs.ids.length,
      agg,
      depth,
      allowed,
    );
    const hits = found.hits;
    const chunks = function* (): Generator<ChunkScore> {
      const scores = found.scores();
      for (let c = 0; c < scores.length; c++) {
        const d = chunkDoc[c];
        if (d >= 0 && (allowed === null || allowed[d])) yield { chunk: c, score: scores[c] };
      }
    };
    return { view, hits, run: { list: hits, chunks, scoreTexts } };
  }
  // ANN: over-fetch chunks (several may belong to one document; metadata filters apply afterwards).
  // Exact search where the store runs it (PostgreSQL, no vector read here): the best documents' chunks.
  const metaFilter = filter.some((c) => c.field !== "lang");
  const want = Math.min(view.chunkIds.length, depth * 4 * (metaFilter ? 10 : 1));
  const found = !useAnn
    ? await col.store.exactSearch!(q, { docs: depth, docScore: agg, filter })
    : await col.store.annSearch(q, want, {
        type: m.ann.index!.type,
        filter,
        nprobes: opts.nprobes, // the store's default (lance-store.ts ANN_DEFAULTS)
        refineFactor: opts.refineFactor ?? 10,
        ef: opts.ef, // the store's default, at least `want`
      });
  const chunks = found.flatMap((h) => {
    const c = view.chunkIndex.get(h.id);
    return c === undefined ? [] : [{ chunk: c, score: h.score }];
  });
  const docOf = (c: number) => {
    const d = view.chunkDoc[c];
    return d >= 0 && (allowed === null || allowed[d]) ? d : -1;
  };
  const hits = docsFromChunks(chunks, docOf, agg, depth);
  return { view, hits, run: { list: hits, chunks: () => chunks, scoreTexts } };
}

/**
 * Whether a search goes through the collection's ANN (or PLAID) index: when asked to (refused when
 * there is none), or by default when there is one and the collection has enough chunks.
 */
function usesIndex(col: Collection, view: CollectionView, ann: SearchOptions["ann"]): boolean {
  const { index, threshold } = col.manifest.ann;
  if (ann === true && index === null)
    throw new Error(
      `collection "${col.name}" has no ANN index: build one with xlir index ${col.name} --build-ann, or search exactly`,
    );
  return ann === true || ((ann ?? "auto") === "auto" && index !== null && view.chunkIds.length >= threshold);
}

/**
 * Multi-vector (ColBERT) collections: the query's token vectors (its language picks the X-MOD
 * adapter; "und": the model's default) against every chunk's by MaxSim, exactly or through the
 * PLAID index (search as ANN does: over-fetched chunks, filters applied to them).
 */
async function lateDocs(
  col: Collection,
  query: string,
  lang: string,
  filter: Filter,
  agg: DocScore,
  depth: number,
  opts: SearchOptions,
): Promise<{ view: CollectionView; hits: DocHit[]; run: DenseRun }> {
  const model = await col.colbert();
  const view = await col.view(false);
  const useIndex = usesIndex(col, view, opts.ann);
  const adapterLang = lang === UNDETERMINED ? undefined : lang;
  const [q] = await model.encodeQueries([query], { lang: adapterLang });
  const ts = await col.tokenSearch(useIndex);
  const allowed = allowedDocs(filter, view.docs.langs, view.docs.metadata);
  const ok = (c: number) => {
    const d = view.chunkDoc[c];
    return d >= 0 && (allowed === null || allowed[d] === 1);
  };
  const want = Math.min(view.chunkIds.length, depth * 4 * (filter.length ? 10 : 1));
  const chunks = scoreTokenChunks(ts, q, want, ok, { nprobe: opts.nprobes, candidates: opts.ef });
  const hits = docsFromChunks(chunks, (c) => view.chunkDoc[c], agg, depth);
  const scoreTexts = async (texts: readonly string[], langs: readonly string[]) => {
    const docs = await model.encodeDocuments(texts, {
      lang: langs.map((l) => (l === UNDETERMINED ? undefined : l)) as string[],
    });
    return docs.map((d) => maxSim(q, d));
  };
  const tokenMatches = async (cs: readonly number[]) => {
    const rows = await col.store.fetchChunkRows(cs.map((c) => view.chunkIds[c]));
    const byId = new Map(rows.map((r) => [r.id, r]));
    const texts = cs.map((c) => byId.get(view.chunkIds[c])!);
    const ids = model.documentTokenIds(texts.map((r) => r.prefix + r.text));
    return cs.map((c, i) =>
      tokenMatchesOf(q, chunkTokens(ts, c), ids[i], (t) => model.tokenText(t), model.spec.maskId),
    );
  };
  return { view, hits, run: { list: hits, chunks: () => chunks, scoreTexts, tokenMatches } };
}

/**
 * Target mode: the language whose token set encodes the query (`docLangs`: the languages of the
 * documents searched), refused with the ways out when the collection holds no set for it.
 */
function aggQueryLang(col: Collection, lang: string, target: AggTarget, docLangs: string[]): string {
  let chosen = encodedLang(lang);
  if (target === "en") chosen = DEFAULT_NLLB_LANG;
  else if (target === "corpus") {
    const langs = [...new Set(docLangs.map(encodedLang))];
    if (langs.length !== 1)
      throw new Error(
        langs.length
          ? `--agg-target corpus: the documents searched are in ${langs.join(", ")}; pick one language with --filter lang=CODE, or use --agg-target query|en`
          : `--agg-target corpus: no documents are searched to take the language from; check --filter, or use --agg-target query|en`,
      );
    chosen = langs[0];
  }
  if (col.aggVocab(chosen) === undefined) {
    const whose = target === "query" ? "the query's language " : "";
    throw new Error(
      `collection "${col.name}" has no token set for ${whose}${chosen}: give the query's language with --lang, ` +
        `encode it with another set (--agg-target query|corpus|en), or add one with ` +
        `xlir index ${col.name} --agg-vocab FILE (made by xlir agg-vocab --lang ${chosen})`,
    );
  }
  return chosen;
}

async function bm25Docs(
  col: Collection,
  view: CollectionView,
  query: string,
  lang: string,
  perLanguage: boolean,
  filter: Filter,
  agg: DocScore,
  depth: number,
): Promise<QueryReading & { hits: DocHit[]; run: Bm25Run }> {
  const index = await col.bm25();
  const { langs } = view.docs;
  const allowed = allowedDocs(filter, langs, view.docs.metadata);
  const docOf = (id: string) => {
    const c = view.chunkIndex.get(id);
    const d = c === undefined ? -1 : view.chunkDoc[c];
    return d >= 0 && (allowed === null || allowed[d]) ? d : -1;
  };
  const queryLangs = perLanguage ? documentLanguages(langs, allowed) : [lang];
  const parts: Bm25QueryPart[] = queryLangs.map((l) => ({
    terms: makeAnalyzer(l, index.analyzer)(query),
    filter: perLanguage
      ? (id) => {
          const d = docOf(id);
          return d >= 0 && langs[d] === l;
        }
      : (id) => docOf(id) >= 0,
  }));
  // every matching chunk, so document scores are exact for max and sum alike
  const all = Math.max(1, index.byId.size);
  const chunks = searchParts(index, parts, { k: all }).map((h) => ({
    chunk: view.chunkIndex.get(h.id)!,
    score: h.score,
  }));
  const hits = docsFromChunks(chunks, (c) => view.chunkDoc[c], agg, depth);
  const terms = new Map(queryLangs.map((l, i) => [l, parts[i].terms]));
  return {
    queryLangs,
    emptyLangs: queryLangs.filter((_, i) => parts[i].terms.length === 0),
    hits,
    run: { list: hits, chunks, index, terms },
  };
}

/** The distinct languages of the allowed documents, sorted ("und" for those without one). */
function documentLanguages(langs: readonly string[], allowed: Uint8Array | null): string[] {
  const seen = new Set<string>();
  langs.forEach((l, d) => {
    if (allowed === null || allowed[d]) seen.add(l);
  });
  return [...seen].sort();
}

async function describe(
  col: Collection,
  view: CollectionView,
  hits: { doc: number; chunk: number; score: number; dense?: number; bm25?: number }[],
  queryLangs: string[],
): Promise<SearchHit[]> {
  const texts = await col.store.fetchChunks(hits.map((h) => view.chunkIds[h.chunk]));
  return hits.map((h, i) => {
    const chunkId = view.chunkIds[h.chunk];
    const c = texts.get(chunkId);
    const hit: SearchHit = {
      rank: i + 1,
      id: view.docs.ids[h.doc],
      score: h.score,
      lang: view.docs.langs[h.doc],
      queryLangs: [...queryLangs],
      title: view.docs.titles[h.doc],
      text: c?.text ?? "",
      chunk: {
        index: Number(chunkId.slice(chunkId.lastIndexOf("#") + 1)),
        start: c?.start ?? 0,
        end: c?.end ?? 0,
      },
      metadata: JSON.parse(view.docs.metadata[h.doc] || "{}"),
    };
    if (h.dense !== undefined) hit.dense = h.dense;
    if (h.bm25 !== undefined) hit.bm25 = h.bm25;
    return hit;
  });
}
