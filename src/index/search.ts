// Searching a collection: dense (exact over every chunk vector, or through the ANN index), BM25 over
// the chunks, or both fused (RRF or weighted min-max). Chunk scores become document scores by the
// collection's doc score (max, or sum of the top chunks); each hit carries its best chunk's text.
import { DEFAULT_NLLB_LANG } from "../text/nllb-input.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import { type LanguageDetector, loadLanguageDetector, UNDETERMINED } from "../text/langid.ts";
import { searchBm25 } from "./bm25.ts";
import type { Collection, CollectionView } from "./collection.ts";
import { type DocHit, type DocScore, docsFromChunks } from "./doc-score.ts";
import { dotAll, normalizeRows, topDocs } from "./exact-search.ts";
import { allowedDocs, type Filter, langWhere, parseFilters } from "./filter.ts";
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
  /** HNSW-SQ: candidate list size (default max(100, chunks fetched)). */
  ef?: number;
  detector?: LanguageDetector;
}

export interface SearchHit {
  rank: number;
  id: string;
  score: number;
  lang: string;
  title: string | null;
  /** The best chunk's passage. */
  text: string;
  chunk: { index: number; start: number; end: number };
  metadata: Record<string, unknown>;
  /** The document's score in each list (hybrid). */
  dense?: number;
  bm25?: number;
}

/** The resolved query language (NLLB code or "und"). */
export async function queryLanguage(
  query: string,
  lang: string | undefined,
  detector?: LanguageDetector,
): Promise<string> {
  if (lang === undefined || lang.toLowerCase() === UNDETERMINED) return UNDETERMINED;
  if (lang === "auto") return (detector ?? (await loadLanguageDetector()))(query);
  return resolveNllbLang(lang);
}

export async function search(col: Collection, query: string, opts: SearchOptions = {}): Promise<SearchHit[]> {
  if (typeof query !== "string" || query.trim() === "")
    throw new Error("the query is empty: give some words to search for");
  const k = opts.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new Error(`--k must be a positive integer, got ${k}`);
  const mode = opts.mode ?? (col.dense ? "dense" : "bm25");
  if (mode !== "bm25" && !col.dense) {
    throw new Error(`collection "${col.name}" is lexical only (built with --model bm25): use --mode bm25`);
  }
  const filter: Filter = isParsed(opts.filter) ? opts.filter : parseFilters(opts.filter ?? []);
  const lang = await queryLanguage(query, opts.lang, opts.detector);
  const agg = opts.docScore ?? col.manifest.docScore;
  const depth = mode === "hybrid" ? Math.max(k, opts.depth ?? 100) : k;

  let hits: { doc: number; chunk: number; score: number; dense?: number; bm25?: number }[];
  let view: CollectionView;
  if (mode === "dense") {
    ({ view, hits } = await denseDocs(col, query, lang, filter, agg, depth, opts));
  } else if (mode === "bm25") {
    view = await col.view(false);
    hits = await bm25Docs(col, view, query, lang, filter, agg, depth);
  } else {
    const dense = await denseDocs(col, query, lang, filter, agg, depth, opts);
    view = dense.view;
    const lexical = await bm25Docs(col, view, query, lang, filter, agg, depth);
    const id = (h: DocHit) => String(h.doc);
    const lists = [dense.hits, lexical].map((l) => l.map((h) => ({ id: id(h), score: h.score })));
    const fused =
      (opts.fusion ?? "rrf") === "rrf"
        ? reciprocalRankFusion(lists)
        : weightedFusion(lists, [opts.weight ?? 0.5, 1 - (opts.weight ?? 0.5)]);
    const chunkOf = new Map([...lexical, ...dense.hits].map((h) => [h.doc, h.chunk])); // dense's chunk wins
    hits = fused.map((f) => ({
      doc: Number(f.id),
      chunk: chunkOf.get(Number(f.id))!,
      score: f.score,
      dense: f.parts[0],
      bm25: f.parts[1],
    }));
  }
  return describe(col, view, hits.slice(0, k));
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
): Promise<{ view: CollectionView; hits: DocHit[] }> {
  const enc = await col.encoder();
  const q = (
    await enc.embed([query], { role: "query", lang: lang === UNDETERMINED ? DEFAULT_NLLB_LANG : lang })
  ).data;
  if (col.cosine) normalizeRows(q, q.length);
  const m = col.manifest;
  const annAuto = (opts.ann ?? "auto") === "auto";
  let view = await col.view(false);
  const useAnn =
    opts.ann === true || (annAuto && m.ann.index !== null && view.chunkIds.length >= m.ann.threshold);
  if (opts.ann === true && m.ann.index === null) {
    throw new Error(
      `collection "${col.name}" has no ANN index: build one with xlir index ${col.name} --build-ann, or search exactly`,
    );
  }
  const allowed = allowedDocs(filter, view.docs.langs, view.docs.metadata);
  if (!useAnn) {
    view = await col.view(true);
    const scores = dotAll(view.vectors!, q.length, q);
    return { view, hits: topDocs(scores, view.chunkDoc, view.docs.ids.length, agg, depth, allowed) };
  }
  // ANN: over-fetch chunks (several may belong to one document; metadata filters apply afterwards)
  const metaFilter = filter.some((c) => c.field !== "lang");
  const want = Math.min(view.chunkIds.length, depth * 4 * (metaFilter ? 10 : 1));
  const found = await col.store.annSearch(q, want, {
    type: m.ann.index!.type,
    where: langWhere(filter),
    nprobes: opts.nprobes ?? 20,
    refineFactor: opts.refineFactor ?? 10,
    ef: opts.ef ?? Math.max(100, want),
  });
  const chunks = found.flatMap((h) => {
    const c = view.chunkIndex.get(h.id);
    return c === undefined ? [] : [{ chunk: c, score: h.score }];
  });
  const docOf = (c: number) => {
    const d = view.chunkDoc[c];
    return d >= 0 && (allowed === null || allowed[d]) ? d : -1;
  };
  return { view, hits: docsFromChunks(chunks, docOf, agg, depth) };
}

async function bm25Docs(
  col: Collection,
  view: CollectionView,
  query: string,
  lang: string,
  filter: Filter,
  agg: DocScore,
  depth: number,
): Promise<DocHit[]> {
  const index = await col.bm25();
  const allowed = allowedDocs(filter, view.docs.langs, view.docs.metadata);
  const docOf = (id: string) => {
    const c = view.chunkIndex.get(id);
    const d = c === undefined ? -1 : view.chunkDoc[c];
    return d >= 0 && (allowed === null || allowed[d]) ? d : -1;
  };
  // every matching chunk, so document scores are exact for max and sum alike
  const all = Math.max(1, index.byId.size);
  const hits = searchBm25(index, query, {
    k: all,
    lang: lang === UNDETERMINED ? undefined : lang,
    filter: (id) => docOf(id) >= 0,
  });
  return docsFromChunks(
    hits.map((h) => ({ chunk: view.chunkIndex.get(h.id)!, score: h.score })),
    (c) => view.chunkDoc[c],
    agg,
    depth,
  );
}

async function describe(
  col: Collection,
  view: CollectionView,
  hits: { doc: number; chunk: number; score: number; dense?: number; bm25?: number }[],
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
