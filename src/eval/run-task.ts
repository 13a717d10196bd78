// Runs a task's settings one at a time: rank (dense, BM25 or their RRF fusion), evaluate with the
// trec_eval-exact measures, hand the run to the caller (who writes it), keep only the metrics. One
// setting's run is in memory at a time, so 121 XQuAD-R pairs cost no more memory than one.
import { addDocuments, createBm25Index, searchBm25, type Bm25Index } from "../index/bm25.ts";
import { analyzerLanguage } from "../text/analyzer.ts";
import { concatRows, DenseScorer, normalizeRows, type TopK } from "./dense-search.ts";
import type { Embedder } from "./embed-cache.ts";
import type { LateRanker } from "./late-interaction.ts";
import { marginScores, type MarginKind } from "./margin.ts";
import { rankDocs } from "./ranking.ts";
import { rrf, RRF_K } from "./rrf.ts";
import type { EvalTask, Setting, SettingMetrics, TextSet } from "./tasks/task.ts";
import { evaluate, type EvalResult } from "./trec-eval.ts";
import type { Run } from "./trec-run.ts";

export type Mode = "dense" | "bm25" | "hybrid";

export interface Margin {
  kind: MarginKind;
  /** Neighbours per sentence (xSIM's default 4). */
  k: number;
}

export interface RunTaskOptions {
  mode: Mode;
  /** Dense and hybrid modes. */
  embedder?: Embedder;
  scorer?: DenseScorer;
  /** Instead of embedder and scorer: a multi-vector (ColBERT) model ranking by MaxSim. */
  late?: LateRanker;
  /** Documents kept per query in the run (and in each list RRF fuses). */
  depth: number;
  /** xSIM margin scoring for bitext settings (dense mode only). */
  margin?: Margin;
  /** The language each query set is read in, when not its own (Aggretriever's --agg-target). */
  queryLang?: (queries: TextSet, setting: Setting) => string | undefined;
  /** Called with each setting's run and result, in order (to write the run file). */
  onSetting?: (setting: Setting, run: Run, result: EvalResult, index: number) => void;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface TaskRun {
  metrics: SettingMetrics[];
  /** What a reader of the numbers should know (languages BM25 could not analyse). */
  notes: string[];
}

export async function runTask(task: EvalTask, o: RunTaskOptions): Promise<TaskRun> {
  if (!(Number.isInteger(o.depth) && o.depth >= 1))
    throw new Error(`--depth ${o.depth} is not a positive whole number; give e.g. --depth 100`);
  if (o.mode !== "bm25" && !o.late && (!o.embedder || !o.scorer))
    throw new Error(`${o.mode} mode needs an encoder: pass --model ID_OR_DIR`);
  if (o.margin && o.late)
    throw new Error(`margin scoring needs one vector per sentence; a multi-vector (ColBERT) model has many`);
  if (o.margin && o.mode !== "dense")
    throw new Error(`margin scoring rescores dense neighbours; use --mode dense with --margin`);
  const lastUse = lastUses(task.settings);
  const bm25 = new Map<string, Bm25Index>();
  const generic = new Set<string>();
  const analyzerLang = analyzerLangs(generic);
  const out: SettingMetrics[] = [];
  for (const [i, s] of task.settings.entries()) {
    o.onProgress?.(`ranking ${task.name}`, i, task.settings.length);
    const depth = s.dropIdenticalIds ? o.depth + 1 : o.depth;
    const dense =
      o.mode === "bm25"
        ? undefined
        : o.late
          ? { lists: await o.late.rank(s, depth) }
          : await denseRun(s, depth, o);
    const lexical = o.mode === "dense" ? undefined : bm25Run(s, depth, bm25, analyzerLang);
    const run = fuse(s, dense, lexical, o.depth);
    const result = evaluate(s.qrels, run, {
      measures: task.measures,
      // Every judged query counts; one with no hit scores 0 instead of leaving the average.
      complete: true,
      runSource: `the ${o.mode} run of ${task.name} ${s.id}`,
      qrelsSource: `the judgments of ${task.name} ${s.id}`,
    });
    o.onSetting?.(s, run, result, i);
    out.push(settingMetrics(s, result));
    // Free what no later setting reads: vectors of sets, BM25 indexes of document sets.
    for (const set of s.queries) if (lastUse.get(set) === i) o.embedder?.drop(set, s.queryRole);
    for (const set of s.docs)
      if (lastUse.get(set) === i) {
        o.embedder?.drop(set, s.docRole);
        o.late?.drop(set);
      }
    if (lastUse.get(docsKey(s)) === i) bm25.delete(docsKey(s));
  }
  o.onProgress?.(`ranking ${task.name}`, task.settings.length, task.settings.length);
  const notes = generic.size
    ? [
        `BM25 has no analyzer for ${[...generic].join(", ")}: analysed generically (no stemming or stop words).`,
      ]
    : [];
  return { metrics: out, notes };
}

/** For each set, and each BM25 document pool, the last setting that uses it. */
function lastUses(settings: readonly Setting[]): Map<TextSet | string, number> {
  const last = new Map<TextSet | string, number>();
  settings.forEach((s, i) => {
    for (const set of [...s.queries, ...s.docs]) last.set(set, i);
    last.set(docsKey(s), i);
  });
  return last;
}

const docsKey = (s: Setting) => s.docs.map((d) => `${d.source}#${d.ids.length}`).join("\n");

interface Ranked {
  /** Per query (in the setting's order), document id -> score. */
  lists: Map<string, number>[];
}

async function denseRun(s: Setting, depth: number, o: RunTaskOptions): Promise<Ranked> {
  const embed = async (
    sets: readonly TextSet[],
    role: Setting["queryRole"],
    lang: (set: TextSet) => string | undefined = () => undefined,
  ) => {
    const parts = [];
    // One set at a time: one progress bar each, and the encoder's threads stay on one batch.
    for (const set of sets) parts.push(await o.embedder!.embed(set, role, lang(set)));
    const e = concatRows(parts);
    return s.cosine ? normalizeRows(e) : e;
  };
  const q = await embed(s.queries, s.queryRole, (set) => o.queryLang?.(set, s));
  const d = await embed(s.docs, s.docRole);
  const qIds = s.queries.flatMap((set) => set.ids);
  const docIds = s.docs.flatMap((set) => set.ids);
  let top: TopK;
  if (o.margin && s.bitext) {
    const fwd = await o.scorer!.topK(q, d, o.margin.k, docIds);
    const bwd = await o.scorer!.topK(d, q, o.margin.k, qIds);
    top = marginScores(fwd, bwd, o.margin.kind);
  } else top = await o.scorer!.topK(q, d, depth, docIds);
  const lists: Map<string, number>[] = [];
  for (let i = 0; i < top.n; i++) {
    const m = new Map<string, number>();
    for (let c = i * top.k; c < (i + 1) * top.k && top.index[c] >= 0; c++)
      m.set(docIds[top.index[c]], top.score[c]);
    lists.push(m);
  }
  return { lists };
}

function bm25Run(
  s: Setting,
  depth: number,
  indexes: Map<string, Bm25Index>,
  analyzerLang: (lang: string | undefined) => string | undefined,
): Ranked {
  let index = indexes.get(docsKey(s));
  if (!index) {
    index = createBm25Index();
    for (const set of s.docs) {
      const lang = analyzerLang(set.lang);
      addDocuments(
        index,
        set.ids.map((id, j) => ({ id, text: set.texts[j], lang })),
      );
    }
    indexes.set(docsKey(s), index);
  }
  const lists: Map<string, number>[] = [];
  for (const set of s.queries) {
    const lang = analyzerLang(set.lang);
    for (const text of set.texts)
      lists.push(new Map(searchBm25(index, text, { k: depth, lang }).map((h) => [h.id, h.score])));
  }
  return { lists };
}

/** The run: one list, or RRF of both; BEIR's identical ids dropped from each list first (so a
 *  hybrid run fuses the runs as they are evaluated); cut to depth. */
function fuse(s: Setting, dense: Ranked | undefined, lexical: Ranked | undefined, depth: number): Run {
  const run: Run = new Map();
  const qIds = s.queries.flatMap((set) => set.ids);
  qIds.forEach((qid, i) => {
    const lists = [dense, lexical].flatMap((r) => (r ? [r.lists[i]] : []));
    if (s.dropIdenticalIds) for (const l of lists) l.delete(qid);
    let docs = lists.length === 2 ? rrf(lists, RRF_K) : lists[0];
    if (docs.size > depth) docs = cut(docs, depth);
    // Every query is in the run, even with no document, so evaluate() counts it (as 0).
    run.set(qid, docs);
  });
  return run;
}

/** The first `depth` documents in trec_eval's order, with their scores. */
function cut(docs: Map<string, number>, depth: number): Map<string, number> {
  return new Map(
    rankDocs(docs)
      .slice(0, depth)
      .map((d) => [d, docs.get(d)!]),
  );
}

/** trec_eval's values as plain records; byQueryLang averages each query language's own queries. */
function settingMetrics(s: Setting, r: EvalResult): SettingMetrics {
  const num = (vs: { name: string; value: number | string }[]) =>
    Object.fromEntries(vs.filter((v) => typeof v.value === "number").map((v) => [v.name, v.value as number]));
  const perQuery: Record<string, Record<string, number>> = {};
  for (const q of r.queries) perQuery[q.qid] = num(q.values);
  const byQueryLang: Record<string, Record<string, number>> = {};
  for (const set of s.queries) {
    if (set.lang === undefined) continue;
    const sums: Record<string, number> = {};
    for (const id of set.ids)
      for (const [k, v] of Object.entries(perQuery[id] ?? {})) sums[k] = (sums[k] ?? 0) + v;
    byQueryLang[set.lang] = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / set.ids.length]));
  }
  return { id: s.id, numQueries: r.queries.length, all: num(r.all), perQuery, byQueryLang };
}

/** The analyzer language of a set: its own code when BM25 knows it, else none (generic analysis,
 *  the language added to `generic`). */
function analyzerLangs(generic: Set<string>): (lang: string | undefined) => string | undefined {
  const known = new Map<string, string | undefined>();
  return (lang) => {
    if (lang === undefined) return undefined;
    if (!known.has(lang)) {
      let ok: string | undefined = lang;
      try {
        analyzerLanguage(lang);
      } catch {
        ok = undefined;
        generic.add(lang);
      }
      known.set(lang, ok);
    }
    return known.get(lang);
  };
}
