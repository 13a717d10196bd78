// `xlir eval run TASK --model ID_OR_DIR|bm25`: a benchmark end to end (src/eval/benchmark.ts does
// the work). Prints the markdown report on standard output; progress goes to standard error (a bar
// on a terminal, JSON lines with --json).
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Command, Option } from "commander";
import { BM25, runBenchmark } from "../eval/benchmark.ts";
import { defaultCacheDir } from "../eval/embed-cache.ts";
import { TASK_HELP } from "../eval/tasks/registry.ts";
import { xlirHome } from "../index/home.ts";
import {
  aggModeOption,
  aggTargetOption,
  dtypeOption,
  lowercaseOptions,
  positiveInt,
  threadsOption,
} from "./options.ts";
import { givenPrompts, passagePrefixOption, queryPrefixOption } from "./prefix-options.ts";
import { progressBar } from "./progress.ts";

const langList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

export function evalRunCommand(): Command {
  const [lowercase, noLowercase] = lowercaseOptions();
  return new Command("run")
    .description(
      "Run a benchmark: rank with a model (or BM25), evaluate like trec_eval, write runs, metrics and a report",
    )
    .argument("<task>", `one of: ${TASK_HELP.join("; ")}`)
    .requiredOption("--model <id-or-dir>", `hub id or model folder, or "${BM25}" for Lucene BM25`)
    .addOption(
      new Option(
        "--mode <mode>",
        "dense, bm25, or hybrid (RRF of both); default: bm25 for --model bm25, else dense",
      ).choices(["dense", "bm25", "hybrid"]),
    )
    .option(
      "--data <dir>",
      "evaluation data folder holding xquad-r/, tatoeba/, flores200/, nllb-seed/ (default: $XLIR_DATA)",
    )
    .option(
      "--langs <codes>",
      "languages to run, comma-separated or repeated (default: all of the task)",
      langList,
    )
    .option(
      "--limit <n>",
      "the first n queries per language (bitext: the first n lines of each pair)",
      positiveInt,
    )
    .option(
      "--output <dir>",
      "where to write runs/, qrels/, metrics.json, per-query.json, report.md, chart.svg (default: <xlir home>/eval/<task>/<model>-<mode>)",
    )
    .option("--depth <n>", "documents per query in the runs (and in each list RRF fuses)", positiveInt, 100)
    .addOption(
      new Option("--margin <kind>", "bitext mining: xSIM margin scoring of the k nearest neighbours").choices(
        ["ratio", "distance"],
      ),
    )
    .option("--margin-k <n>", "neighbours per sentence for --margin", positiveInt, 4)
    .option(
      "--adapter-fallback <lang>",
      "ColBERT-XM models: the adapter for languages the model has none for (e.g. en_XX; default: refuse them)",
    )
    .option(
      "--reference <file>",
      "published numbers to show beside ours (YAML or JSON), repeatable",
      (v: string, p: string[] = []) => [...p, v],
    )
    .option("--split <name>", "BEIR qrels split (default test) / FLORES-200 split (default devtest)")
    .option(
      "--cache <dir>",
      "embedding cache folder (default: $XLIR_CACHE/embeddings or ~/.cache/xlir/embeddings)",
    )
    .option("--no-cache", "embed without reading or writing the cache")
    .option("--no-runs", "do not write the TREC run and qrels files")
    .option("--batch-size <n>", "texts per encoder batch", positiveInt, 32)
    .addOption(threadsOption())
    .addOption(
      new Option("--device <device>", "where the encoder runs").choices(["cpu", "cuda"]).default("cpu"),
    )
    .option("--revision <rev>", "hub revision of the model (branch, tag or commit)")
    .addOption(dtypeOption("float32"))
    .addOption(queryPrefixOption())
    .addOption(passagePrefixOption())
    .addOption(aggModeOption())
    .addOption(lowercase)
    .addOption(noLowercase)
    .addOption(aggTargetOption())
    .option("--home <dir>", "xlir home for the default --output (default: $XLIR_HOME or ~/.xlir)")
    .option("--json", "progress as JSON lines on standard error", false)
    .addHelpText(
      "after",
      "\nAggretriever target mode builds each language's token set from the task's own documents in that language.",
    )
    .action(async function (this: Command, task: string, o) {
      const out = this.configureOutput();
      const mode = o.mode ?? (o.model === BM25 ? "bm25" : "dense");
      const agg = { mode: o.aggMode, lowercase: o.lowercase, target: o.aggTarget };
      // Never into the current folder unasked: a default under the xlir home, like collections.
      // Aggretriever modes and targets are other runs of the same model: other folders.
      const variant = [mode, agg.mode, agg.target && `to-${agg.target}`, caseTag(agg.lowercase)];
      const output =
        o.output ??
        join(
          xlirHome(o.home),
          "eval",
          slug(task),
          `${slug(basename(o.model))}-${variant.filter(Boolean).join("-")}`,
        );
      const result = await runBenchmark({
        task,
        model: o.model,
        mode: o.mode,
        data: o.data ?? process.env.XLIR_DATA,
        langs: o.langs,
        limit: o.limit,
        split: o.split,
        output,
        depth: o.depth,
        margin: o.margin ? { kind: o.margin, k: o.marginK } : undefined,
        adapterFallback: o.adapterFallback,
        references: o.reference,
        cacheDir: o.cache === false ? null : typeof o.cache === "string" ? o.cache : defaultCacheDir(),
        writeRuns: o.runs,
        encoder: {
          batchSize: o.batchSize,
          threads: o.threads,
          device: o.device,
          dtype: o.dtype,
          revision: o.revision,
          prompts: givenPrompts(o),
        },
        onProgress: o.json ? jsonProgress : barProgress(),
        agg,
        warn: (m) => out.writeErr!(`xlir eval run: ${m}\n`),
      });
      out.writeOut!(result.files.includes("report.md") ? readReport(output) : "");
      const c = result.cache;
      const cache = c ? `; embeddings: ${c.hits} cached, ${c.misses} encoded (${c.textsEncoded} texts)` : "";
      out.writeErr!(`xlir eval run: wrote ${output} (${result.files.length} files${cache})\n`);
    });
}

const caseTag = (lowercase: boolean | undefined) =>
  lowercase === undefined ? undefined : lowercase ? "lowercase" : "cased";

const slug = (s: string) => s.replace(/[^\w.@-]+/g, "_");

const readReport = (dir: string) => readFileSync(join(dir, "report.md"), "utf8");

function jsonProgress(label: string, done: number, total: number): void {
  process.stderr.write(JSON.stringify({ event: "progress", label, done, total }) + "\n");
}

/** One bar per label, replaced when the label changes. */
function barProgress(): (label: string, done: number, total: number) => void {
  let current = "";
  let bar: (done: number, total?: number) => void = () => {};
  return (label, done, total) => {
    if (label !== current) {
      current = label;
      bar = progressBar(label, total);
    }
    bar(done, total);
  };
}
