// A benchmark as plain data: the settings it ranks (each evaluated on its own, as the papers do:
// one XQuAD-R language pair, one bitext direction, one BEIR language), the trec_eval measures it
// reports, and the function that lays the measured values out as the papers' tables.
import type { Role } from "../../encode/conventions.ts";
import type { Qrels } from "../qrels.ts";
import type { ReportBody } from "../report.ts";

/**
 * Texts embedded or analysed together: one language's questions, one side of a bitext. Sets are
 * shared between settings (XQuAD-R's 121 pairs use 22 sets), so each is embedded once per run.
 */
export interface TextSet {
  /** Names the data it came from ("xquad-r/de.json#questions"): part of the embedding cache key. */
  source: string;
  /** The language as the dataset writes it ("de", "deu", "eng_Latn"); undefined: not known. */
  lang?: string;
  ids: string[];
  texts: string[];
}

/** One ranking problem: the queries of some sets against the documents of others. */
export interface Setting {
  /** Names the setting in files and tables: "ar-de", "pooled", "deu-eng"; safe as a file name. */
  id: string;
  queries: TextSet[];
  docs: TextSet[];
  queryRole: Role;
  docRole: Role;
  /** Cosine similarity (embeddings L2-normalised first, as LASER's bitext mining); otherwise the
   *  dot product of the model's own output, normalised or not as the model says. */
  cosine: boolean;
  qrels: Qrels;
  /** BEIR's ignore_identical_ids: a retrieved document whose id is the query id does not count. */
  dropIdenticalIds?: boolean;
  /** Bitext directions, which margin scoring may rescore (it needs both sides' neighbourhoods). */
  bitext?: boolean;
}

/** What one setting measured: trec_eval's `all` values and each query's values, by measure name. */
export interface SettingMetrics {
  id: string;
  numQueries: number;
  all: Record<string, number>;
  perQuery: Record<string, Record<string, number>>;
  /** Means over the queries of each query language (pooled XQuAD-R reports rows per language). */
  byQueryLang: Record<string, Record<string, number>>;
}

export interface EvalTask {
  /** As given on the command line: "xquad-r", "tatoeba", "beir:hindi". */
  name: string;
  title: string;
  settings: Setting[];
  /** `-m` arguments as trec_eval takes them. */
  measures: string[];
  /** Said with the report: sampling, conventions, anything a reader comparing numbers must know. */
  notes: string[];
  /** The papers' tables and the chart, from the measured settings (in `settings` order). */
  layout: (metrics: readonly SettingMetrics[]) => ReportBody;
}

/** `ids.length` texts with the first `limit` kept (no limit: all). */
export function takeFirst(set: TextSet, limit?: number): TextSet {
  if (limit === undefined || limit >= set.ids.length) return set;
  return { ...set, ids: set.ids.slice(0, limit), texts: set.texts.slice(0, limit) };
}

/** Checks --limit: a whole number of queries, at least 1. */
export function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
    throw new Error(`--limit ${limit} is not a positive whole number; give e.g. --limit 50`);
}

/** The `wanted` languages in the order given, each checked against `available` (all when none). */
export function pickLangs(
  wanted: readonly string[] | undefined,
  available: readonly string[],
  where: string,
  resolve: (code: string) => string = (c) => c,
): string[] {
  if (!wanted || wanted.length === 0) return [...available];
  const out: string[] = [];
  for (const code of wanted) {
    let lang: string | undefined;
    try {
      lang = resolve(code);
    } catch {
      lang = undefined;
    }
    if (lang === undefined || !available.includes(lang))
      throw new Error(
        `--langs: ${where} has no language "${code}"; languages there: ${available.join(", ")}`,
      );
    if (out.includes(lang)) throw new Error(`--langs: language "${code}" is given twice; list each once`);
    out.push(lang);
  }
  return out;
}
