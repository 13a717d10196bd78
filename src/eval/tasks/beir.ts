// BEIR-format retrieval, one setting per language: a BEIR folder (corpus.jsonl, queries.jsonl,
// qrels/<split>.tsv) is one language; a folder of such folders (hindi/, bengali/... or hi/, bn/...,
// as Hindi-BEIR, MIRACL or IndicQA exports lay them out) is one setting per subfolder, named by it.
// nDCG@10, Recall@100 and MRR@10 as BEIR reports them, with BEIR's ignore_identical_ids.
// MIRACL (from the hub) is scored the same way, one setting per language.
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { ResolveOptions } from "../../weights/hub.ts";
import { loadBeir } from "../datasets/beir.ts";
import { loadMiracl } from "../datasets/miracl.ts";
import type { RetrievalTask } from "../datasets/task.ts";
import type { Qrels } from "../qrels.ts";
import { mean, type ReportBody, type Row } from "../report.ts";
import { checkLimit, pickLangs, type EvalTask, type Setting, type SettingMetrics } from "./task.ts";

export interface BeirTaskOptions {
  /** Subfolders to run (their names); for a single folder, at most one: its language. */
  langs?: readonly string[];
  /** The first `limit` judged queries of each folder (queries.jsonl order); the corpus stays whole. */
  limit?: number;
  split?: string;
  /** Names the task (`beir:<name>`) instead of the folder's name, e.g. the hub id it came from. */
  name?: string;
}

const COLUMNS = [
  { key: "nDCG@10", label: "nDCG@10", measure: "ndcg_cut_10" },
  { key: "R@100", label: "Recall@100", measure: "recall_100" },
  { key: "MRR@10", label: "MRR@10", measure: "recip_rank_10" },
];

export async function beirTask(folder: string, opts: BeirTaskOptions = {}): Promise<EvalTask> {
  checkLimit(opts.limit);
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new Error(
      `beir:${folder}: no such folder; give a BEIR folder (corpus.jsonl, queries.jsonl, qrels/) or a folder of them`,
    );
  // A hub snapshot's folder is named by its commit; the name given reads better in keys and files.
  const name = opts.name ?? basename(folder);
  const parts = beirParts(folder, opts.langs, basename(name));
  const notes: string[] = [];
  const settings: Setting[] = [];
  for (const part of parts) {
    const task = await loadBeir(part.dir, { split: opts.split, lang: part.lang });
    settings.push(retrievalSetting(task, part, opts.split ?? "test", opts.limit, notes));
    if (part.lang === undefined)
      notes.push(
        `${part.key}: no language given (--langs), so BM25 analysed it without stemming or stop words.`,
      );
  }
  return retrievalTask(`beir:${name}`, `BEIR-format retrieval (${name})`, settings, notes);
}

export interface MiraclTaskOptions {
  limit?: number;
  /** Default "dev". */
  split?: string;
  hub?: ResolveOptions;
}

/** MIRACL for one language (`lang`, e.g. "hi"), its topics, qrels and corpus from the hub. */
export async function miraclTask(lang: string, opts: MiraclTaskOptions = {}): Promise<EvalTask> {
  checkLimit(opts.limit);
  const split = opts.split ?? "dev";
  const task = await loadMiracl(lang, { split, hub: opts.hub });
  const notes: string[] = [`MIRACL v1.0 "${split}" split from the Hugging Face hub.`];
  const name = `miracl-v1.0-${lang}`;
  const part = { key: lang, dir: name, source: name, lang: task.corpus[0]?.lang ?? lang };
  const setting = retrievalSetting(task, part, split, opts.limit, notes);
  return retrievalTask(`miracl:${lang}`, `MIRACL (${lang})`, [setting], notes);
}

/** One language of a BEIR-format task as a setting; a sampled query set is noted. */
function retrievalSetting(
  task: RetrievalTask,
  part: Part,
  split: string,
  limit: number | undefined,
  notes: string[],
): Setting {
  if (task.corpus.length === 0)
    throw new Error(`${join(part.dir, "corpus.jsonl")}: no documents; the folder's corpus is empty`);
  const queries = task.queries.slice(0, limit ?? task.queries.length);
  if (queries.length === 0)
    throw new Error(
      `${part.dir}: no query is judged in its qrels split "${split}"; check the split (--split)`,
    );
  const qrels: Qrels = new Map(queries.map((q) => [q.id, task.qrels.get(q.id)!]));
  const name = part.source;
  if (queries.length < task.queries.length)
    notes.push(
      `${part.key}: sample of the first ${queries.length} of ${task.queries.length} judged queries.`,
    );
  return {
    id: part.key,
    queries: [
      {
        source: `${name}/queries.jsonl`,
        lang: part.lang,
        ids: queries.map((q) => q.id),
        texts: queries.map((q) => q.text),
      },
    ],
    docs: [
      {
        source: `${name}/corpus.jsonl`,
        lang: part.lang,
        ids: task.corpus.map((d) => d.id),
        // BEIR's dense models read "title text"; Pyserini's BEIR indexes hold both fields too.
        texts: task.corpus.map((d) => (d.title ? `${d.title} ${d.text}` : d.text)),
      },
    ],
    queryRole: "query",
    docRole: "passage",
    cosine: false,
    qrels,
    dropIdenticalIds: true,
  };
}

function retrievalTask(name: string, title: string, settings: Setting[], notes: string[]): EvalTask {
  notes.push("A retrieved document whose id is the query id is dropped (BEIR's ignore_identical_ids).");
  return {
    name,
    title: `${title}: nDCG@10, Recall@100, MRR@10`,
    settings,
    measures: ["ndcg_cut.10", "recall.100", "recip_rank.10"],
    notes,
    layout: (m) => beirLayout(m),
  };
}

interface Part {
  key: string;
  dir: string;
  /** Names the files in text-set sources (and so in the embedding cache key). */
  source: string;
  lang?: string;
}

const isBeirFolder = (dir: string) =>
  existsSync(join(dir, "corpus.jsonl")) || existsSync(join(dir, "corpus.jsonl.gz"));

function beirParts(folder: string, langs: readonly string[] | undefined, name: string): Part[] {
  const safe = (s: string) => s.replace(/[^\w.@+-]/g, "_");
  if (isBeirFolder(folder)) {
    if (langs && langs.length > 1)
      throw new Error(
        `--langs: ${folder} is one BEIR folder, so it takes one language (its own), not ${langs.length}`,
      );
    return [{ key: safe(langs?.[0] ?? name), dir: folder, source: name, lang: langs?.[0] }];
  }
  const subs = readdirSync(folder)
    .filter(
      (d) => !d.startsWith(".") && statSync(join(folder, d)).isDirectory() && isBeirFolder(join(folder, d)),
    )
    .sort();
  if (subs.length === 0)
    throw new Error(
      `beir:${folder}: neither a BEIR folder (corpus.jsonl, queries.jsonl, qrels/) nor a folder of them`,
    );
  return pickLangs(langs, subs, folder).map((d) => ({
    key: safe(d),
    dir: join(folder, d),
    source: d,
    lang: d,
  }));
}

/** Rows per language (setting), the three BEIR columns, and their mean over languages. */
export function beirLayout(metrics: readonly SettingMetrics[]): ReportBody {
  const rows: Row[] = metrics.map((m) => ({
    key: m.id,
    label: m.id,
    values: COLUMNS.map((c) => m.all[c.measure] ?? null),
  }));
  if (rows.length > 1)
    rows.push({
      key: "average",
      label: `average (${rows.length} languages)`,
      values: COLUMNS.map((_, i) => mean(rows.map((r) => r.values[i]))),
    });
  const langs = metrics.map((m) => m.id);
  return {
    tables: [
      {
        id: "beir",
        title: "Retrieval per language",
        rowHeader: "language",
        columns: COLUMNS.map(({ key, label }) => ({ key, label })),
        rows,
      },
    ],
    chart: {
      title: "nDCG@10 per language",
      table: "beir",
      categories: langs,
      series: [
        { key: "nDCG@10", label: "nDCG@10", values: rows.slice(0, langs.length).map((r) => r.values[0]) },
      ],
      axis: "nDCG@10 (%)",
    },
  };
}
