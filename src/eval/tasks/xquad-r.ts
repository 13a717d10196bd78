// XQuAD-R in its two published settings. Per pair (mAggretriever's Table 4): the questions of
// language X_Q against the sentences of language X_C, one relevant sentence per question, mAP@100,
// macro-averaged separately over the 11 pairs with X_Q = X_C and the 110 with X_Q != X_C. Pooled
// (LAReQA): every language's questions against one pool of every language's sentences, 11 relevant
// per question; LAReQA's mAP@20 (as XTREME-R reports it) and mAP@100.
import { basename } from "node:path";
import {
  lareqaPairTask,
  lareqaPooledTask,
  listLareqaLangs,
  loadLareqa,
  type LareqaLang,
} from "../datasets/lareqa.ts";
import type { Qrels } from "../qrels.ts";
import { mean, type ReportBody, type Row } from "../report.ts";
import { checkLimit, pickLangs, type EvalTask, type SettingMetrics, type TextSet } from "./task.ts";

export interface XquadROptions {
  langs?: readonly string[];
  /** The first `limit` questions (by the first language's order; the same ids in every language,
   *  so X_Q = X_C and X_Q != X_C average over the same questions). Candidates stay complete. */
  limit?: number;
}

const NOTES = [
  "Candidates are the sentences alone; LAReQA's answer encoder also read the paragraph as context.",
  "mAP@k is trec_eval's map_cut.k, averaged over every question (a question with no hit scores 0).",
];

export function xquadRPairsTask(dir: string, opts: XquadROptions = {}): EvalTask {
  const { langs, asked, full, notes } = load(dir, opts);
  // One set object per language, shared by its 2 x 11 pairs.
  const qsets = asked.map((l) => questions(dir, l));
  const csets = full.map((l) => candidates(dir, l));
  const settings = asked.flatMap((q, i) =>
    full.map((c, j) => ({
      id: `${q.lang}-${c.lang}`,
      queries: [qsets[i]],
      docs: [csets[j]],
      queryRole: "query" as const,
      docRole: "passage" as const,
      cosine: false,
      qrels: lareqaPairTask(q, c).qrels,
    })),
  );
  return {
    name: "xquad-r",
    title: "XQuAD-R per language pair: mAP@100",
    settings,
    measures: ["map_cut.100"],
    notes: [
      ...notes,
      ...NOTES,
      "With one relevant sentence per question, mAP@100 equals MRR@100.",
      "X_Q = X_C and X_Q != X_C are macro averages over pairs (mAggretriever, Table 4).",
    ],
    layout: (m) => pairsLayout(langs, m),
  };
}

export function xquadRPooledTask(dir: string, opts: XquadROptions = {}): EvalTask {
  const { langs, asked, full, notes } = load(dir, opts);
  // Golds come from the whole files, so a sampled question keeps all 11 of its answers.
  const pooled = lareqaPooledTask(full).qrels;
  const qrels: Qrels = new Map();
  for (const l of asked) for (const x of l.questions) qrels.set(x.id, pooled.get(x.id)!);
  return {
    name: "xquad-r-pooled",
    title: `XQuAD-R, LAReQA's multilingual pool (${langs.length} languages): mAP@20 and mAP@100`,
    settings: [
      {
        id: "pooled",
        queries: asked.map((l) => questions(dir, l)),
        docs: full.map((l) => candidates(dir, l)),
        queryRole: "query",
        docRole: "passage",
        cosine: false,
        qrels,
      },
    ],
    // One -m per measure: trec_eval keeps only the first parameter list given for a measure.
    measures: ["map_cut.20,100"],
    notes: [
      ...notes,
      ...NOTES,
      `Every question has ${langs.length} relevant sentences, its answer in each language; trec_eval's map_cut.k divides by all of them.`,
    ],
    layout: (m) => pooledLayout(langs, m[0]),
  };
}

function load(dir: string, opts: XquadROptions) {
  checkLimit(opts.limit);
  const langs = pickLangs(opts.langs, listLareqaLangs(dir), dir);
  const full = loadLareqa(dir, langs);
  const notes: string[] = [];
  let asked = full;
  if (opts.limit !== undefined && opts.limit < full[0].questions.length) {
    const keep = new Set(full[0].questions.slice(0, opts.limit).map((x) => x.squadId));
    asked = full.map((l) => ({ ...l, questions: l.questions.filter((x) => keep.has(x.squadId)) }));
    notes.push(
      `Sample: the first ${opts.limit} questions (the same in every language) against all candidates.`,
    );
  }
  return { langs, asked, full, notes };
}

const questions = (dir: string, l: LareqaLang): TextSet => ({
  source: `${basename(dir)}/${l.lang}.json#questions`,
  lang: l.lang,
  ids: l.questions.map((x) => x.id),
  texts: l.questions.map((x) => x.text),
});

const candidates = (dir: string, l: LareqaLang): TextSet => ({
  source: `${basename(dir)}/${l.lang}.json#sentences`,
  lang: l.lang,
  ids: l.candidates.map((x) => x.id),
  texts: l.candidates.map((x) => x.text),
});

const MAP100 = "map_cut_100";

/** The 11 x 11 matrix, the two macro averages, and per-language views of the matrix. */
export function pairsLayout(langs: readonly string[], metrics: readonly SettingMetrics[]): ReportBody {
  const value = new Map(metrics.map((m) => [m.id, m.all[MAP100]]));
  const cell = (q: string, c: string) => value.get(`${q}-${c}`) ?? null;
  const mono = langs.map((l) => cell(l, l));
  const cross = langs.flatMap((q) => langs.filter((c) => c !== q).map((c) => cell(q, c)));
  const asQuery = (l: string) => mean(langs.filter((c) => c !== l).map((c) => cell(l, c)));
  const asCandidate = (l: string) => mean(langs.filter((q) => q !== l).map((q) => cell(q, l)));
  const n = langs.length;
  const byLang: Row[] = langs.map((l) => ({
    key: l,
    label: l,
    values: [cell(l, l), asQuery(l), asCandidate(l)],
  }));
  return {
    tables: [
      {
        id: "summary",
        title: "Macro averages over language pairs (mAP@100)",
        rowHeader: "pairs",
        columns: [{ key: "mAP@100", label: "mAP@100" }],
        rows: [
          { key: "X_Q=X_C", label: `X_Q = X_C (${n} pairs)`, values: [mean(mono)] },
          { key: "X_Q!=X_C", label: `X_Q ≠ X_C (${n * (n - 1)} pairs)`, values: [mean(cross)] },
        ],
      },
      {
        id: "pairs",
        title: "mAP@100 per pair: rows are the query language X_Q, columns the candidate language X_C",
        rowHeader: "X_Q \\ X_C",
        columns: langs.map((l) => ({ key: l, label: l })),
        rows: langs.map((q) => ({ key: q, label: q, values: langs.map((c) => cell(q, c)) })),
      },
      {
        id: "languages",
        title:
          "Per language (mAP@100): monolingual, and the mean of its row and of its column off the diagonal",
        rowHeader: "language",
        columns: [
          { key: "X=X", label: "X_Q = X_C" },
          { key: "X->other", label: "queries in X, mean over X_C ≠ X" },
          { key: "other->X", label: "candidates in X, mean over X_Q ≠ X" },
        ],
        rows: byLang,
      },
    ],
    chart: {
      title: "XQuAD-R mAP@100 per language",
      table: "languages",
      categories: [...langs],
      series: [
        { key: "X=X", label: "X_Q = X_C", values: byLang.map((r) => r.values[0]) },
        { key: "X->other", label: "X_Q = X, X_C ≠ X (mean)", values: byLang.map((r) => r.values[1]) },
      ],
      axis: "mAP@100 (%)",
    },
  };
}

/** Rows per query language and all, columns mAP@20 and mAP@100. */
export function pooledLayout(langs: readonly string[], m: SettingMetrics): ReportBody {
  const cols = [
    { key: "mAP@20", label: "mAP@20", measure: "map_cut_20" },
    { key: "mAP@100", label: "mAP@100", measure: "map_cut_100" },
  ];
  const rows: Row[] = langs.map((l) => ({
    key: l,
    label: l,
    values: cols.map((c) => m.byQueryLang[l]?.[c.measure] ?? null),
  }));
  rows.push({ key: "all", label: "all questions", values: cols.map((c) => m.all[c.measure] ?? null) });
  return {
    tables: [
      {
        id: "pooled",
        title: "Multilingual pool: mAP by question language",
        rowHeader: "question language",
        columns: cols.map(({ key, label }) => ({ key, label })),
        rows,
      },
    ],
    chart: {
      title: "XQuAD-R pooled mAP@20 per question language",
      table: "pooled",
      categories: [...langs],
      series: [{ key: "mAP@20", label: "mAP@20", values: rows.slice(0, -1).map((r) => r.values[0]) }],
      axis: "mAP@20 (%)",
    },
  };
}
