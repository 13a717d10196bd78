// A file of (query, positive passage) pairs scored as "Data Efficient Dense Cross-Lingual
// Information Retrieval" reports its test sets: per query language MRR, R@1, R@5 and R@10, every
// query ranking ALL the passages of the file (the positives, identical texts merged), its own
// positive the one relevant passage. One setting per query language, so each language's queries
// are embedded once and rank the one shared pool; the "all" row is the mean over every query.
//
// Ids: queries are q1, q2, ... in the order of the file(s) (the n-th example read); passages are
// p1, p2, ... in the order their text first appears as a positive. The run and qrels files use
// them, so a reader can map a run line back to its line of the file.
import { statSync } from "node:fs";
import { basename } from "node:path";
import { UNDETERMINED } from "../../text/langid.ts";
import { loadPairs, resolveLanguage, type PairExample } from "../../train/pairs.ts";
import type { Qrels } from "../qrels.ts";
import type { ReportBody, Row } from "../report.ts";
import {
  checkLimit,
  pickLangs,
  type EvalTask,
  type Setting,
  type SettingMetrics,
  type TextSet,
} from "./task.ts";

export interface PairsTaskOptions {
  /** Query languages to run: NLLB-200 codes, aliases or English names (as the pair files take
   *  them), or "und". */
  langs?: readonly string[];
  /** The first `limit` queries of each language (file order); the passage pool stays whole. */
  limit?: number;
  /** Names the task (default `pairs:` + the paths joined by ","). */
  name?: string;
  /** Language identification for rows whose lang is "auto"; default: the project's detector
   *  (src/text/langid.ts), loaded only when some row needs it. */
  detect?: (text: string) => string;
}

const COLUMNS = [
  { key: "MRR", label: "MRR", measure: "recip_rank" },
  { key: "R@1", label: "R@1", measure: "recall_1" },
  { key: "R@5", label: "R@5", measure: "recall_5" },
  { key: "R@10", label: "R@10", measure: "recall_10" },
];

/** The task for the pair files at `paths` (already resolved; read with src/train/pairs.ts). */
export async function pairsTask(paths: readonly string[], opts: PairsTaskOptions = {}): Promise<EvalTask> {
  checkLimit(opts.limit);
  if (paths.length === 0)
    throw new Error(`task "pairs:" names no file; give pairs:FILE, e.g. pairs:test.jsonl`);
  // The detector (for lang "auto") is loaded only when some row asks for it.
  const examples = await loadPairs(paths, opts.detect ? { detect: opts.detect } : {});
  const name = opts.name ?? `pairs:${paths.join(",")}`;
  if (examples.length === 0)
    throw new Error(`${paths.join(", ")}: no pairs; each line needs a query and a positive passage`);
  const where = paths.join(", ");

  // The pool: every distinct positive text, numbered in order of first appearance.
  const passageId = new Map<string, string>();
  for (const x of examples)
    if (!passageId.has(x.positive)) passageId.set(x.positive, `p${passageId.size + 1}`);
  const docs: TextSet = {
    source: `${fileTag(paths)}#passages`,
    // Unknown: a pair file gives the query's language only (SWIM-IR's passages are English).
    lang: undefined,
    ids: [...passageId.values()],
    texts: [...passageId.keys()],
  };

  // Queries by language, in file order; languages sorted (--langs: the order given).
  const byLang = new Map<string, { id: string; x: PairExample }[]>();
  examples.forEach((x, i) => {
    const lang = x.lang ?? UNDETERMINED;
    if (!byLang.has(lang)) byLang.set(lang, []);
    byLang.get(lang)!.push({ id: `q${i + 1}`, x });
  });
  const available = [...byLang.keys()].sort();
  const langs = pickLangs(opts.langs, available, where, (code) =>
    available.includes(code) ? code : resolveLanguage(code),
  );

  const notes: string[] = [];
  const settings: Setting[] = langs.map((lang) => {
    const all = byLang.get(lang)!;
    const qs = all.slice(0, opts.limit ?? all.length);
    if (qs.length < all.length)
      notes.push(`${lang}: sample of the first ${qs.length} of ${all.length} queries.`);
    const qrels: Qrels = new Map(qs.map((q) => [q.id, new Map([[passageId.get(q.x.positive)!, 1]])]));
    return {
      id: lang.replace(/[^\w.@+-]/g, "_"),
      queries: [
        {
          source: `${fileTag(paths)}#queries.${lang}`,
          lang: lang === UNDETERMINED ? undefined : lang,
          ids: qs.map((q) => q.id),
          texts: qs.map((q) => q.x.query),
        },
      ],
      docs: [docs],
      queryRole: "query",
      docRole: "passage",
      cosine: false,
      qrels,
    };
  });

  const negatives = examples.reduce((n, x) => n + x.negatives.length, 0);
  const merged = examples.length - passageId.size;
  notes.push(
    `Candidates: the ${passageId.size} distinct positive passages of the file, one pool for every language` +
      (merged > 0 ? ` (${examples.length} positives; identical texts share one id)` : "") +
      ". Each query's one relevant passage is its own line's positive, so R@k is trec_eval's recall.k (= success.k).",
    negatives > 0
      ? `Hard negatives (${negatives} in the file) are ignored: neither scored nor added to the pool, so every language ranks the same positives-only pool.`
      : "Hard negatives, had the file any, would be ignored: neither scored nor added to the pool.",
    "MRR is trec_eval's recip_rank over the run (--depth, default 100, documents per query): a positive ranked below the depth scores 0; with a pool no larger than the depth it is the MRR of the full ranking.",
    "Passages carry no language in a pair file: BM25 analyses them generically (no stemming or stop words) and an encoder reads them in its default language (eng_Latn for NLLB-E5).",
    `"all" is the mean over every query run (languages weighted by their number of queries).`,
  );
  if (byLang.has(UNDETERMINED) && langs.includes(UNDETERMINED))
    notes.push(
      `"${UNDETERMINED}": the queries whose line names no language (or whose "auto" language could not be told).`,
    );
  return {
    name,
    title: `Query-passage pairs (${paths.map((p) => basename(p)).join(", ")}): MRR, R@1, R@5, R@10`,
    settings,
    measures: ["recip_rank", "recall.1,5,10"],
    notes,
    layout: (m) => pairsLayout(m),
  };
}

/** Rows per query language and "all" (the mean over every query); columns MRR, R@1, R@5, R@10. */
export function pairsLayout(metrics: readonly SettingMetrics[]): ReportBody {
  const rows: Row[] = metrics.map((m) => ({
    key: m.id,
    label: m.id,
    values: COLUMNS.map((c) => m.all[c.measure] ?? null),
  }));
  const n = metrics.reduce((s, m) => s + m.numQueries, 0);
  rows.push({
    key: "all",
    label: `all (${n} queries)`,
    values: COLUMNS.map((c) => {
      const ms = metrics.filter((m) => m.all[c.measure] !== undefined);
      const k = ms.reduce((s, m) => s + m.numQueries, 0);
      return k ? ms.reduce((s, m) => s + m.all[c.measure] * m.numQueries, 0) / k : null;
    }),
  });
  const langs = metrics.map((m) => m.id);
  return {
    tables: [
      {
        id: "pairs",
        title: "Retrieval of each query's positive among all passages, by query language",
        rowHeader: "query language",
        columns: COLUMNS.map(({ key, label }) => ({ key, label })),
        rows,
      },
    ],
    chart: {
      title: "MRR per query language",
      table: "pairs",
      categories: langs,
      series: [{ key: "MRR", label: "MRR", values: rows.slice(0, langs.length).map((r) => r.values[0]) }],
      axis: "MRR (%)",
    },
  };
}

/** Names the files with their size and modification time, so an edited file gets new cache keys. */
function fileTag(paths: readonly string[]): string {
  return (
    "pairs/" +
    paths
      .map((p) => {
        const s = statSync(p);
        return `${basename(p)}@${s.size}-${Math.round(s.mtimeMs)}`;
      })
      .join("+")
  );
}
