// `xlir eval run` as a library call: load the task, rank every setting with the model (or BM25),
// evaluate, and write what a user compares models with: the TREC run files, metrics as JSON
// (aggregate and per query), the report in the papers' layouts (markdown) and its chart (SVG).
//
//   <output>/runs/<setting>.trec   one TREC run per setting (a pair, a direction, a language)
//   <output>/qrels/<setting>.qrels its judgments, so `xlir eval trec` (or trec_eval) re-scores it
//   <output>/metrics.json          every setting's trec_eval values, the tables, the cache counters
//   <output>/per-query.json        setting -> query id -> measure -> value
//   <output>/report.md             the tables, published numbers beside ours
//   <output>/chart.svg             per-language bars
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ColbertModel, isColbertFolder } from "../encode/colbert.ts";
import { Encoder, type EncoderOptions } from "../encode/encoder.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import { resolveModel } from "../weights/hub.ts";
import { aggEval, type AggEval, type AggEvalOptions, refuseAggOptions } from "./agg-eval.ts";
import { DenseScorer } from "./dense-search.ts";
import { cachedEmbedder, modelFingerprint, type EmbedStats, type Embedder } from "./embed-cache.ts";
import { lateRanker, type LateRanker } from "./late-interaction.ts";
import type { Reference, Report } from "./report.ts";
import { renderMarkdown, unmatched } from "./report-markdown.ts";
import { readReference } from "./report-reference.ts";
import { renderSvg } from "./report-svg.ts";
import { runTask, type Margin, type Mode } from "./run-task.ts";
import { loadTask } from "./tasks/registry.ts";
import type { SettingMetrics } from "./tasks/task.ts";
import { writeQrels } from "./qrels.ts";
import { writeRun } from "./trec-run.ts";

/** The model name that means "no encoder: Lucene BM25". */
export const BM25 = "bm25";

export interface BenchmarkOptions {
  task: string;
  /** A hub id, a model folder, or "bm25". */
  model: string;
  /** Default: bm25 for --model bm25, else dense. */
  mode?: Mode;
  data?: string;
  langs?: readonly string[];
  limit?: number;
  split?: string;
  output: string;
  /** Documents per query in runs (default 100: enough for every measure reported). */
  depth?: number;
  margin?: Margin;
  /** Reference files of published numbers. */
  references?: readonly string[];
  /** Embedding cache folder; null: none. */
  cacheDir: string | null;
  /** Write the TREC run files (default true). */
  writeRuns?: boolean;
  encoder?: Pick<EncoderOptions, "batchSize" | "threads" | "device" | "dtype" | "prompts"> & {
    revision?: string;
  };
  /** ColBERT-XM models: the adapter for languages the model has none for (default: refuse them). */
  adapterFallback?: string;
  /** Aggretriever models: --agg-mode, --lowercase, --agg-target (agg-eval.ts); an error for others. */
  agg?: AggEvalOptions;
  onProgress?: (label: string, done: number, total: number) => void;
  /** Things worth saying as they happen (reference cells that match nothing). */
  warn?: (msg: string) => void;
}

export interface BenchmarkResult {
  report: Report;
  metrics: SettingMetrics[];
  /** Embedding cache counters (dense and hybrid modes). */
  cache: EmbedStats | null;
  /** The files written, relative to the output folder. */
  files: string[];
}

export async function runBenchmark(o: BenchmarkOptions): Promise<BenchmarkResult> {
  const mode = pickMode(o.model, o.mode);
  const depth = o.depth ?? 100;
  if (o.margin && mode !== "dense")
    throw new Error(`--margin rescores dense neighbours; it needs --mode dense`);
  if (mode === "bm25") refuseAggOptions(o.model, o.agg);
  const refs: Reference[] = (o.references ?? []).map(readReference);
  const task = await loadTask(o.task, { data: o.data, langs: o.langs, limit: o.limit, split: o.split });
  if (o.margin && !task.settings.some((s) => s.bitext))
    throw new Error(`--margin applies to bitext mining (tatoeba, flores, nllb-seed), not to ${o.task}`);

  let embedder: Embedder | undefined;
  let scorer: DenseScorer | undefined;
  let late: LateRanker | undefined;
  let modelKey: string | undefined;
  let agg: AggEval | undefined;
  const files: string[] = [];
  try {
    const hub = { revision: o.encoder?.revision };
    const dir = mode === "bm25" ? null : await resolveModel(o.model, hub);
    if (dir !== null && isColbertFolder(dir)) {
      if (o.agg && Object.values(o.agg).some((v) => v !== undefined))
        throw new Error(`${o.model} is a ColBERT model: the --agg-* options are for Aggretriever models`);
      const model = await ColbertModel.load(dir, {
        batchSize: o.encoder?.batchSize,
        threads: o.encoder?.threads,
        device: o.encoder?.device,
        adapterFallback: o.adapterFallback,
      });
      late = lateRanker(model, o.onProgress);
    } else if (dir !== null) {
      // int8 embeddings are not float32's: their own cache entries
      const dtype = o.encoder?.dtype ?? "float32";
      // so are embeddings with prefixes given by hand (none given: the keys caches already have)
      const prompts = o.encoder?.prompts ?? {};
      agg = aggEval(o.model, dir, task, o.agg);
      modelKey =
        modelFingerprint(o.model, dir) +
        (dtype === "float32" ? "" : `|${dtype}`) +
        (Object.keys(prompts).length ? `|prompts:${JSON.stringify([prompts.query, prompts.passage])}` : "") +
        (agg?.keySuffix ?? "");
      const aggRun = agg;
      embedder = cachedEmbedder({
        modelKey,
        dir: o.cacheDir ?? undefined,
        load: async () => {
          const enc = await Encoder.load(o.model, {
            batchSize: o.encoder?.batchSize,
            threads: o.encoder?.threads,
            device: o.encoder?.device,
            dtype,
            hub,
            prompts,
            agg: aggRun?.encoder,
          });
          aggRun?.bind(enc);
          return enc;
        },
        // Aggretriever reads the language only to pick a token set, keyed by the task's own codes.
        encoderLang: agg ? (lang) => lang : nllbCode,
        onProgress: o.onProgress,
      });
      scorer = await DenseScorer.create({ threads: o.encoder?.threads, device: o.encoder?.device });
    }
    mkdirSync(o.output, { recursive: true });
    if (o.writeRuns !== false)
      for (const sub of ["runs", "qrels"]) mkdirSync(join(o.output, sub), { recursive: true });
    const tag = `xlir-${mode}`;
    const { metrics, notes } = await runTask(task, {
      mode,
      embedder,
      scorer,
      late,
      depth,
      margin: o.margin,
      queryLang: agg?.queryLang,
      onProgress: o.onProgress,
      onSetting: (s, run) => {
        if (o.writeRuns === false) return;
        const file = join("runs", `${s.id}.trec`);
        writeRun(join(o.output, file), run, tag);
        const qrels = join("qrels", `${s.id}.qrels`);
        writeQrels(join(o.output, qrels), s.qrels);
        files.push(file, qrels);
      },
    });

    const body = task.layout(metrics);
    const queries = task.settings.reduce((n, s) => n + s.qrels.size, 0);
    const facts: [string, string][] = [
      ["task", task.name],
      ["model", mode === "bm25" ? "BM25 (Lucene, k1 0.9, b 0.4)" : o.model],
      ["mode", mode === "hybrid" ? "hybrid: RRF (k 60) of dense and BM25" : mode],
      ["settings", `${task.settings.length} (${queries} queries in all)`],
    ];
    if (mode !== "bm25")
      facts.push(["similarity", task.settings[0].cosine ? "cosine" : "dot product of the model's vectors"]);
    if (agg) facts.push(...agg.facts);
    if (o.margin) facts.push(["margin", `xSIM ${o.margin.kind} margin, k ${o.margin.k}`]);
    facts.push(["run depth", String(depth)]);
    const report: Report = {
      title: task.title,
      facts,
      notes: [...task.notes, ...notes],
      ...body,
    };
    for (const ref of refs)
      for (const u of unmatched(report, ref)) o.warn?.(`reference value names no cell of this report: ${u}`);

    const write = (name: string, text: string) => {
      writeFileSync(join(o.output, name), text);
      files.push(name);
    };
    write(
      "metrics.json",
      JSON.stringify(
        {
          task: task.name,
          title: task.title,
          model: o.model,
          modelKey,
          mode,
          agg: agg ? { mode: agg.mode, lowercase: agg.lowercase, target: agg.target } : null,
          depth,
          margin: o.margin ?? null,
          langs: o.langs ?? null,
          limit: o.limit ?? null,
          measures: task.measures,
          settings: metrics.map((m) => ({
            id: m.id,
            numQueries: m.numQueries,
            all: m.all,
            byQueryLang: m.byQueryLang,
          })),
          tables: body.tables,
          cache: embedder?.stats ?? null,
          notes: report.notes,
        },
        null,
        1,
      ) + "\n",
    );
    write(
      "per-query.json",
      JSON.stringify(Object.fromEntries(metrics.map((m) => [m.id, m.perQuery]))) + "\n",
    );
    write("report.md", renderMarkdown(report, refs));
    write("chart.svg", renderSvg(report.chart, refs));
    return { report, metrics, cache: embedder ? { ...embedder.stats } : null, files };
  } finally {
    await embedder?.close();
    await scorer?.close();
    await late?.close();
  }
}

function pickMode(model: string, mode: Mode | undefined): Mode {
  if (model === BM25) {
    if (mode !== undefined && mode !== "bm25")
      throw new Error(`--mode ${mode} needs an encoder, but --model is bm25; pass --model ID_OR_DIR`);
    return "bm25";
  }
  if (mode === "bm25")
    throw new Error(
      `--mode bm25 uses no encoder; pass --model bm25 (or --mode hybrid to fuse ${model} with BM25)`,
    );
  return mode ?? "dense";
}

/** The NLLB-200 code the encoder gets for a dataset's language code, when there is one (only NLLB
 *  models read it; a code outside NLLB-200, like Tatoeba's "arq", leaves the encoder's default). */
function nllbCode(lang: string | undefined): string | undefined {
  if (lang === undefined) return undefined;
  try {
    return resolveNllbLang(lang);
  } catch {
    return undefined;
  }
}
