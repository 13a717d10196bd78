// Why a hit ranked where it did, and which parts of its text matched (SearchOptions.explain and
// highlight), for a UI that shows a result list: computed for the k hits returned only, from what
// the search itself computed (the query's vector, its BM25 terms in each reading, the lists fused),
// so an explanation is the arithmetic of the ranking, not a second opinion.
//  - BM25 contributions are Lucene's per-term scores (bm25-similarity.ts) for the document's best
//    BM25 chunk; search sums them in a double and rounds to float once, and so can the reader.
//  - A document outside a list's depth still gets its score where the search scored it (every
//    chunk, for BM25 and exact dense search; the fetched ones for ANN), with rank null.
//  - Term highlights analyse the hit's text with the analyzer and language of the query reading
//    that scored it, so a stemmed form ("volcanoes" for "volcano") lights up as the index matched it.
//  - The sentence highlight embeds each sentence of the hit's text as a passage, as the document
//    was, and keeps the one nearest the query: where the dense match most likely sits (multi-vector
//    collections: each sentence encoded as a document and scored by MaxSim).
//  - Multi-vector (ColBERT) hits list, for each query token, the document token it matched (its
//    maximum dot product) and that dot product: the terms of the MaxSim sum, from the stored vectors.
import { type AnalyzerConfig, makeSpanAnalyzer } from "../text/analyzer.ts";
import { encodedLang } from "./agg-vocab.ts";
import { type Bm25Index, docFreq, type Postings } from "./bm25.ts";
import { LENGTH_TABLE } from "./bm25-norms.ts";
import { avgFieldLength, luceneIdf, normInverse, termScore, termWeight } from "./bm25-similarity.ts";
import type { CollectionView } from "./collection.ts";
import { type ChunkScore, type DocHit, type DocScore, docsFromChunks } from "./doc-score.ts";
import type { FusedItem } from "./fusion.ts";

/** Why the hit scored what it did (SearchOptions.explain). */
export interface HitExplain {
  /** Dense: the document's score and 1-based rank in the dense list (null: not in that list's depth). */
  dense?: { score: number; rank: number | null; tokens?: TokenMatch[] };
  /**
   * BM25: the document's score, its rank in the BM25 list, and each query term's contribution in
   * the best chunk (the contributions sum to the chunk's BM25 score, within float error; with doc
   * score "max" that chunk's score is the document's). Every distinct query term is listed, those
   * the chunk lacks with tf and score 0; a term the query repeats weighs once per repeat.
   */
  bm25?: { score: number; rank: number | null; terms: Bm25TermScore[] };
  /**
   * Hybrid: how each list contributed to the fused score: RRF 1/(60+rank) per list, or weighted
   * min-max normalised score x weight. The contributions sum to hit.score.
   */
  fusion?: { method: "rrf" | "weighted"; parts: FusionPart[] };
}

/** One query token's term of a MaxSim score: the document token it matched best. */
export interface TokenMatch {
  /** The query token as the tokenizer spells it ([MASK] for the query's padding rows). */
  query: string;
  /** Its row in the query (0 is [CLS], 1 the [Q] marker). */
  queryPosition: number;
  /** The document token it matched, and that token's row among the chunk's kept tokens. */
  doc: string;
  docPosition: number;
  /** Their dot product: the query token's contribution to the score. */
  score: number;
  /** A [MASK] row of ColBERT's query augmentation (padding that matches as a soft expansion). */
  expansion: boolean;
}

export interface Bm25TermScore {
  /** The analysed term. */
  term: string;
  /** The language the query was analysed in to get it. */
  lang: string;
  /** Its frequency in the chunk (title prefix included, as indexed). */
  tf: number;
  idf: number;
  score: number;
}

export interface FusionPart {
  list: "dense" | "bm25";
  rank: number | null;
  contribution: number;
}

/** A span of hit.text (UTF-16 offsets, end exclusive) that matched. */
export interface Highlight {
  start: number;
  end: number;
  kind: "term" | "sentence";
  /** kind "term": the analysed query term the word analyses to. */
  term?: string;
  /** kind "sentence": its embedding's score against the query (as the collection scores chunks). */
  score?: number;
}

/** The dense search as run: its ranked list, every chunk score it had, and how it scores a text. */
export interface DenseRun {
  list: readonly DocHit[];
  /** Exact search: every allowed chunk; ANN: the chunks fetched. Read only for documents off the list. */
  chunks: () => Iterable<ChunkScore>;
  /** Scores texts against the query as the collection scores chunks (each with its NLLB language). */
  scoreTexts: (texts: readonly string[], langs: readonly string[]) => Promise<ArrayLike<number>>;
  /** Multi-vector collections: each returned chunk's query-token matches. */
  tokenMatches?: (chunks: readonly number[]) => Promise<TokenMatch[][]>;
}

/** The BM25 search as run: its ranked list, every chunk it matched, and the query's terms. */
export interface Bm25Run {
  list: readonly DocHit[];
  chunks: readonly ChunkScore[];
  index: Bm25Index;
  /** The query's terms in each language it was read in (several: each scores its own documents). */
  terms: ReadonlyMap<string, readonly string[]>;
}

export interface ExplainInput {
  view: CollectionView;
  docScore: DocScore;
  dense?: DenseRun;
  bm25?: Bm25Run;
  fusion?: { method: "rrf" | "weighted"; items: readonly FusedItem[] };
}

/** A returned hit: its document and chunk, and the text shown (the chunk's). */
export interface HitRef {
  doc: number;
  chunk: number;
  text: string;
}

export interface Annotations {
  explain?: HitExplain;
  highlights?: Highlight[];
}

/** Explanations and/or highlights for each hit, in order. */
export async function annotate(
  hits: readonly HitRef[],
  run: ExplainInput,
  want: { explain: boolean; highlight: boolean },
): Promise<Annotations[]> {
  const out: Annotations[] = hits.map(() => ({}));
  const { view, docScore } = run;
  const reading = (doc: number) => {
    const terms = run.bm25!.terms;
    const lang = terms.size === 1 ? [...terms.keys()][0] : view.docs.langs[doc];
    return { lang, terms: terms.get(lang) ?? [] };
  };
  if (want.explain) {
    const docs = hits.map((h) => h.doc);
    const dense = run.dense && listed(docs, run.dense.list, run.dense.chunks, view.chunkDoc, docScore);
    const bm25 = run.bm25 && listed(docs, run.bm25.list, () => run.bm25!.chunks, view.chunkDoc, docScore);
    const fused = run.fusion && new Map(run.fusion.items.map((f) => [Number(f.id), f]));
    const matches = await run.dense?.tokenMatches?.(hits.map((h) => h.chunk));
    hits.forEach((h, i) => {
      const e: HitExplain = {};
      const d = dense?.get(h.doc);
      if (d !== undefined) e.dense = { score: d.hit.score, rank: d.rank };
      if (e.dense && matches) e.dense.tokens = matches[i];
      if (bm25 !== undefined) {
        const b = bm25.get(h.doc);
        const { lang, terms } = reading(h.doc);
        const chunk = view.chunkIds[b?.hit.chunk ?? h.chunk];
        e.bm25 = {
          score: b?.hit.score ?? 0,
          rank: b?.rank ?? null,
          terms: bm25TermScores(run.bm25!.index, chunk, terms, lang),
        };
      }
      const f = fused?.get(h.doc);
      if (f !== undefined) {
        const lists = ["dense", "bm25"] as const;
        e.fusion = {
          method: run.fusion!.method,
          parts: lists.map((list, j) => ({
            list,
            rank: f.ranks[j] ?? null,
            contribution: f.contributions[j],
          })),
        };
      }
      out[i].explain = e;
    });
  }
  if (want.highlight) {
    const spans: Highlight[][] = hits.map(() => []);
    if (run.bm25) {
      const config = run.bm25.index.analyzer;
      hits.forEach((h, i) => {
        const { lang, terms } = reading(h.doc);
        spans[i].push(...termHighlights(h.text, new Set(terms), lang, config));
      });
    }
    if (run.dense) {
      const best = await bestSentences(
        hits.map((h) => ({ text: h.text, lang: view.docs.langs[h.doc] })),
        run.dense,
      );
      best.forEach((s, i) => s && spans[i].push(s));
    }
    spans.forEach((s, i) => (out[i].highlights = s.sort((a, b) => a.start - b.start || a.end - b.end)));
  }
  return out;
}

/**
 * For each query row, the document row with the largest dot product (the first on ties, as MaxSim's
 * max takes it): `doc` is the chunk's stored token vectors, `docIds` the ids of its kept tokens.
 */
export function tokenMatchesOf(
  query: { vectors: Float32Array; dims: readonly [number, number]; ids: readonly number[] },
  doc: Float32Array,
  docIds: readonly number[],
  spell: (id: number) => string,
  maskId: number,
): TokenMatch[] {
  const [nq, dim] = query.dims;
  const nd = doc.length / dim;
  const out: TokenMatch[] = [];
  for (let i = 0; i < nq; i++) {
    let best = -Infinity;
    let at = -1;
    for (let j = 0; j < nd; j++) {
      let s = 0;
      for (let x = 0; x < dim; x++) s += query.vectors[i * dim + x] * doc[j * dim + x];
      if (s > best) [best, at] = [s, j];
    }
    if (at < 0) continue;
    const id = docIds[at];
    out.push({
      query: spell(query.ids[i]),
      queryPosition: i,
      doc: id === undefined ? "?" : spell(id),
      docPosition: at,
      score: best,
      expansion: query.ids[i] === maskId,
    });
  }
  return out;
}

/** Each document's entry in a ranked list (rank from 1), or its score off the list (rank null). */
function listed(
  docs: readonly number[],
  list: readonly DocHit[],
  chunks: () => Iterable<ChunkScore>,
  chunkDoc: Int32Array,
  docScore: DocScore,
): Map<number, { hit: DocHit; rank: number | null }> {
  const wanted = new Set(docs);
  const out = new Map<number, { hit: DocHit; rank: number | null }>();
  list.forEach((hit, r) => wanted.has(hit.doc) && out.set(hit.doc, { hit, rank: r + 1 }));
  const missing = new Set(docs.filter((d) => !out.has(d)));
  if (missing.size > 0) {
    const docOf = (c: number) => (missing.has(chunkDoc[c]) ? chunkDoc[c] : -1);
    for (const hit of docsFromChunks(chunks(), docOf, docScore, Infinity))
      out.set(hit.doc, { hit, rank: null });
  }
  return out;
}

/**
 * Each distinct query term's BM25 score in one indexed chunk, as searchTerms adds it up (same
 * statistics, length norm and float rounding), in the query's order.
 */
export function bm25TermScores(
  index: Bm25Index,
  chunkId: string,
  terms: readonly string[],
  lang: string,
): Bm25TermScore[] {
  const boosts = new Map<string, number>();
  for (const t of terms) boosts.set(t, (boosts.get(t) ?? 0) + 1);
  const d = index.byId.get(chunkId);
  const { k1, b } = index.params;
  const avgdl = avgFieldLength(index.sumTotalTermFreq, index.docCount);
  const inv =
    d === undefined
      ? 0
      : normInverse(
          k1,
          b,
          index.params.lengths === "exact" ? index.lengths[d] : LENGTH_TABLE[index.norms[d]],
          avgdl,
        );
  return [...boosts].map(([term, boost]) => {
    const p = index.postings.get(term);
    const n = p === undefined ? 0 : docFreq(index, p);
    const tf = p === undefined || d === undefined ? 0 : freqIn(p, d);
    const idf = n > 0 ? luceneIdf(n, index.docCount) : 0;
    const score = tf > 0 ? termScore(termWeight(boost, idf), tf, inv) : 0;
    return { term, lang, tf, idf, score };
  });
}

/** The term's frequency in internal document d (postings are in document order). */
function freqIn(p: Postings, d: number): number {
  let [lo, hi] = [0, p.docs.length - 1];
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (p.docs[mid] === d) return p.freqs[mid];
    if (p.docs[mid] < d) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

/** The words of `text` that analyse (in `lang`, with `config`) to one of `terms`. */
export function termHighlights(
  text: string,
  terms: ReadonlySet<string>,
  lang: string,
  config: AnalyzerConfig,
): Highlight[] {
  if (terms.size === 0) return [];
  const out: Highlight[] = [];
  let last: Highlight | undefined;
  for (const t of makeSpanAnalyzer(lang, config)(text)) {
    if (!terms.has(t.term)) continue;
    // a word NFKC opened into several words gives them one span: show it once per term
    if (last && last.start === t.start && last.end === t.end && last.term === t.term) continue;
    out.push((last = { start: t.start, end: t.end, kind: "term", term: t.term }));
  }
  return out;
}

let SENTENCES: Intl.Segmenter | undefined;

/** The sentences of `text`, without the whitespace around them; a text of one sentence is one span, whole. */
export function sentenceSpans(text: string): { start: number; end: number }[] {
  SENTENCES ??= new Intl.Segmenter(undefined, { granularity: "sentence" });
  const out: { start: number; end: number }[] = [];
  for (const s of SENTENCES.segment(text)) {
    const lead = s.segment.length - s.segment.trimStart().length;
    const body = s.segment.trim();
    if (body !== "") out.push({ start: s.index + lead, end: s.index + lead + body.length });
  }
  return out.length === 1 ? [{ start: 0, end: text.length }] : out;
}

/** The sentence of each text nearest the query, all texts' sentences embedded in one call. */
async function bestSentences(
  texts: readonly { text: string; lang: string }[],
  dense: DenseRun,
): Promise<(Highlight | null)[]> {
  const spans = texts.map((t) => sentenceSpans(t.text));
  const rows = spans.flatMap((s, i) => s.map((x) => texts[i].text.slice(x.start, x.end)));
  if (rows.length === 0) return texts.map(() => null);
  const langs = spans.flatMap((s, i) => s.map(() => encodedLang(texts[i].lang)));
  const scores = await dense.scoreTexts(rows, langs);
  let row = 0;
  return spans.map((s) => {
    let best: Highlight | null = null;
    for (const x of s) {
      const score = scores[row++];
      if (best === null || score > best.score!) best = { ...x, kind: "sentence", score };
    }
    return best;
  });
}
