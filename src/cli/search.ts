// xlir search: one query against a collection; ranked documents with their best passage, as text
// for people or JSON lines (--json) for programs. With --topics FILE --run OUT.trec, every query of
// a topics file in one process, written as a TREC run (Pyserini's `search --topics --output`).

import { Command, Option } from "commander";
import { Collection } from "../index/collection.ts";
import { parseDocScore } from "../index/doc-score.ts";
import { encoderSpec } from "../index/collection.ts";
import { parseFilters, unknownFields } from "../index/filter.ts";
import type { HitExplain } from "../index/explain.ts";
import { search, searchDetailed, type SearchHit, type SearchOptions } from "../index/search.ts";
import { appendRun, finishRun, readTopics, resumeRun, runLines, type Topic } from "../eval/topics.ts";
import { progressBar } from "./progress.ts";
import type { Encoder } from "../encode/encoder.ts";
import { checkSameAgg, checkSameEncoder } from "../index/manifest.ts";
import { checkAggApplies, givenAgg } from "./agg-options.ts";
import {
  aggModeOption,
  aggTargetOption,
  decimal,
  dtypeOption,
  lowercaseOptions,
  positiveInt,
  storeOption,
  threadsOption,
} from "./options.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function searchCommand(): Command {
  const [lowercase, noLowercase] = lowercaseOptions();
  return new Command("search")
    .description("search a collection with a query in any language")
    .argument("<collection>", "collection name")
    .argument("[query]", "the query text (or --topics FILE)")
    .option("--lang <code>", 'language of the query: an NLLB-200 code or alias, or "auto" to detect', "auto")
    .addOption(
      new Option(
        "--mode <mode>",
        "dense vectors, BM25, or both fused (default: dense, or bm25 for lexical collections)",
      ).choices(["dense", "bm25", "hybrid"]),
    )
    .option("--k <n>", "how many documents (default 10; 1000 per topic with --topics)", positiveInt)
    .option("--topics <file>", "batch search: TSV (qid<TAB>query) or JSONL (BEIR queries.jsonl) topics")
    .option("--run <file>", "with --topics: the TREC run to write (resumes after a crash)")
    .option("--run-tag <tag>", "with --topics: the run tag in the last column", "xlir")
    .option(
      "--filter <cond>",
      "FIELD=V1,V2 or FIELD!=V on lang or a metadata field; repeatable (all must hold)",
      collect,
      [],
    )
    .addOption(
      new Option("--fusion <how>", "hybrid fusion: reciprocal rank (k 60) or weighted min-max scores")
        .choices(["rrf", "weighted"])
        .default("rrf"),
    )
    .option(
      "--weight <w>",
      "weighted fusion: weight of the dense scores (BM25 gets 1 - w)",
      decimal({ min: 0, max: 1 }),
      0.5,
    )
    .option(
      "--doc-score <how>",
      "document score from its chunks: max, sum or sum:K (default: the collection's)",
    )
    .option("--exact", "exact dense search even when the collection has an ANN index")
    .option("--ann", "dense search through the ANN index")
    .option(
      "--nprobes <n>",
      "ANN: IVF partitions to probe; PLAID (ColBERT): centroids per query token (default 8)",
      positiveInt,
    )
    .option("--refine-factor <n>", "ANN: candidates re-ranked exactly, as a multiple of k", positiveInt)
    .option(
      "--ef <n>",
      "ANN (HNSW): candidate list size; PLAID (ColBERT): documents re-scored (default 2048)",
      positiveInt,
    )
    .option("--model <id-or-dir>", "check the query encoder (default: the collection's own)")
    .addOption(aggModeOption())
    .addOption(lowercase)
    .addOption(noLowercase)
    .addOption(aggTargetOption())
    .addOption(threadsOption())
    .addOption(dtypeOption("the one the collection was built with"))
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .addOption(storeOption())
    .option(
      "--adapter-fallback <lang>",
      "ColBERT-XM collections: the adapter for a query language the model has none for (e.g. en_XX)",
    )
    .option("--allow-model-change", "search even though the model's weights changed since indexing")
    .option(
      "--explain",
      "say why each hit scored what it did: its rank and score in each list, BM25's per-term scores, the fusion's parts, and for ColBERT collections which document token each query token matched",
    )
    .option("--json", "one JSON object per result line")
    .action(async (name: string, query: string | undefined, o) => {
      if (o.exact && o.ann) throw new Error("--exact and --ann contradict each other: give one");
      if (query === undefined && !o.topics)
        throw new Error("give the query text, or --topics FILE --run OUT.trec");
      if (query !== undefined && o.topics) throw new Error("give the query text or --topics FILE, not both");
      if (o.topics && !o.run) throw new Error("--topics needs --run OUT.trec: where to write the run");
      if (o.run && !o.topics) throw new Error("--run writes the run of --topics FILE: give --topics too");
      const topics = o.topics ? readTopics(o.topics) : null;
      const filter = parseFilters(o.filter);
      const col = await Collection.open(name, { home: o.home, store: o.store });
      let enc: Encoder | null = null;
      let closeModel = async () => {};
      try {
        checkAggOptions(col, o);
        const mode = o.mode ?? (col.neural ? "dense" : "bm25");
        const check = { allowModelChange: o.allowModelChange };
        if (col.multiVector && mode !== "bm25") {
          // ColBERT: the collection's own model (a --model given must be the same)
          const opts = { threads: o.threads, adapterFallback: o.adapterFallback, ...check };
          if (o.model && o.model !== "bm25") {
            const { ColbertModel } = await import("../encode/colbert.ts");
            const model = await ColbertModel.load(o.model, opts);
            closeModel = () => model.close();
            col.useColbert(model, check);
          } else await col.colbert(opts);
        } else if (o.model) {
          if (o.model === "bm25") checkSameEncoder(name, col.manifest.encoder, { kind: "bm25" }, "search");
          else {
            const built = col.manifest.encoder;
            const dtype = o.dtype ?? (built.kind === "dense" ? built.dtype : undefined);
            // queries get the prefixes the documents were embedded with
            const prompts = built.kind === "dense" ? built.prompts : undefined;
            const agg = col.aggOptions();
            const { Encoder } = await import("../encode/encoder.ts");
            enc = await Encoder.load(o.model, { threads: o.threads, dtype, prompts, agg });
            const spec = encoderSpec(enc, built.kind === "dense" ? built.revision : null);
            checkSameEncoder(name, built, spec, "search", check);
            col.useEncoder(enc, check);
          }
        } else if (mode !== "bm25" && col.dense)
          await col.encoder({ threads: o.threads, dtype: o.dtype, allowModelChange: o.allowModelChange });
        for (const field of unknownFields(filter, (await col.view(false)).docs.metadata))
          warn(`--filter ${field}: no document has a metadata field "${field}", so nothing can match`);
        const opts: SearchOptions = {
          mode,
          k: o.k ?? (topics ? 1000 : 10),
          lang: o.lang,
          filter,
          fusion: o.fusion,
          weight: o.weight,
          docScore: o.docScore ? parseDocScore(o.docScore) : undefined,
          ann: o.exact ? false : o.ann ? true : "auto",
          nprobes: o.nprobes,
          refineFactor: o.refineFactor,
          ef: o.ef,
          aggTarget: o.aggTarget,
          explain: Boolean(o.explain),
        };
        if (topics) return await searchTopics(col, topics, opts, o);
        const { hits, warning } = await searchDetailed(col, query!, opts);
        if (warning !== null) warn(warning);
        if (o.json) for (const h of hits) process.stdout.write(JSON.stringify(h) + "\n");
        else process.stdout.write(formatHits(hits, query!, { explain: Boolean(o.explain) }));
      } finally {
        await col.close();
        await enc?.close();
        await closeModel();
      }
    });
}

/** The Aggretriever options must fit the collection: one of its model, as it was built. */
function checkAggOptions(col: Collection, o: Record<string, unknown>): void {
  const agg = col.agg;
  checkAggApplies(agg !== undefined, o, `the model of collection "${col.name}"`);
  if (agg === undefined) return;
  checkSameAgg(col.name, agg, givenAgg(o), "search");
  if (o.aggTarget !== undefined && agg.mode !== "target")
    throw new Error(
      `--agg-target picks a token set for --agg-mode target, and collection "${col.name}" was built with --agg-mode ${agg.mode}; leave --agg-target out`,
    );
}

/** Every topic in turn, appended to the run as it goes (a rerun resumes after the queries done). */
async function searchTopics(
  col: Collection,
  topics: readonly Topic[],
  opts: SearchOptions,
  o: Record<string, unknown>,
): Promise<void> {
  const out = o.run as string;
  const { partial, done } = resumeRun(out);
  const bar = o.json ? () => {} : progressBar(`searching ${col.name}`, topics.length);
  let n = 0;
  for (const t of topics) {
    if (!done.has(t.id)) {
      const hits = await search(col, t.text, { ...opts, lang: t.lang ?? opts.lang });
      appendRun(partial, runLines(t.id, hits, o.runTag as string));
    }
    n++;
    if (o.json)
      process.stdout.write(JSON.stringify({ event: "progress", done: n, total: topics.length }) + "\n");
    else bar(n, topics.length);
  }
  finishRun(partial, out);
  const resumed = done.size ? ` (${done.size} resumed from ${partial})` : "";
  if (o.json) process.stdout.write(JSON.stringify({ event: "done", topics: topics.length, run: out }) + "\n");
  else process.stderr.write(`xlir: wrote ${out}: ${topics.length} topics${resumed}\n`);
}

const warn = (message: string) => process.stderr.write(`xlir: warning: ${message}\n`);

/**
 * Human output: rank, score, id, language, title, then the passage, shortened around the query
 * words; with `explain`, the hit's explanation below it.
 */
export function formatHits(
  hits: readonly SearchHit[],
  query: string,
  opts: { explain?: boolean } = {},
): string {
  if (hits.length === 0) return "no results\n";
  return (
    hits
      .map((h) => {
        const head = `${String(h.rank).padStart(3)}  ${h.score.toFixed(4)}  ${h.id}  [${h.lang}]${h.title ? `  ${h.title}` : ""}`;
        const why = opts.explain && h.explain ? explainLines(h.explain).map((l) => `\n     ${l}`) : [];
        return `${head}\n     ${snippet(h.text, query)}${why.join("")}`;
      })
      .join("\n") + "\n"
  );
}

const rankOf = (r: number | null) => (r === null ? "not in the list" : `rank ${r}`);

/** One line per list searched, and ColBERT's token matches (query token -> document token). */
function explainLines(e: HitExplain): string[] {
  const out: string[] = [];
  if (e.dense) {
    out.push(`dense ${e.dense.score.toFixed(4)} (${rankOf(e.dense.rank)})`);
    const tokens = e.dense.tokens ?? [];
    const words = tokens.filter((t) => !t.expansion);
    if (words.length)
      out.push(`  matches: ${words.map((t) => `${t.query}→${t.doc} ${t.score.toFixed(3)}`).join(", ")}`);
    const rest = tokens.filter((t) => t.expansion);
    if (rest.length) {
      const sum = rest.reduce((a, t) => a + t.score, 0);
      const docs = [...new Set(rest.map((t) => t.doc))].slice(0, 8).join(" ");
      out.push(`  ${rest.length} [MASK] expansions: ${sum.toFixed(3)} (matched ${docs})`);
    }
  }
  if (e.bm25) {
    const terms = e.bm25.terms.map((t) => `${t.term}×${t.tf} ${t.score.toFixed(3)}`).join(", ");
    out.push(`bm25 ${e.bm25.score.toFixed(4)} (${rankOf(e.bm25.rank)})${terms ? `: ${terms}` : ""}`);
  }
  if (e.fusion)
    out.push(
      `${e.fusion.method}: ${e.fusion.parts.map((p) => `${p.list} ${rankOf(p.rank)} +${p.contribution.toFixed(4)}`).join(", ")}`,
    );
  return out;
}

/** At most ~200 characters of the passage, starting near the first query word it contains. */
export function snippet(text: string, query: string, width = 200): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= width) return flat;
  const lower = flat.toLowerCase();
  const at = query
    .toLowerCase()
    .split(/[\s\p{P}]+/u)
    .filter((w) => w.length > 2)
    .map((w) => lower.indexOf(w))
    .filter((i) => i >= 0)
    .sort((a, b) => a - b)[0];
  const start = at === undefined ? 0 : Math.max(0, Math.min(at - 40, flat.length - width));
  return (start > 0 ? "…" : "") + flat.slice(start, start + width) + (start + width < flat.length ? "…" : "");
}
