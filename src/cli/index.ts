// xlir index: create or extend a collection from JSONL / BEIR / TSV / a folder of .txt/.md files,
// batch by batch (a rerun of the same command resumes), or delete documents from it.
// Ctrl-C stops after committing what was read; a second Ctrl-C quits at once (still safe: a
// rerun resumes). Progress: a bar on a terminal, JSON lines with --json.

import { Command, Option } from "commander";
import { ColbertModel, isColbertFolder } from "../encode/colbert.ts";
import { Encoder } from "../encode/encoder.ts";
import { resolveModel } from "../weights/hub.ts";
import { freshAggVocabs, langsWithoutVocab } from "../index/agg-vocab.ts";
import { type AggVocab } from "../encode/agg-vocab-file.ts";
import { Collection, deleteCollection, type LocateOptions } from "../index/collection.ts";
import { parseDocScore } from "../index/doc-score.ts";
import {
  countDocuments,
  detectFormat,
  INPUT_FORMATS,
  type InputDoc,
  type InputFormat,
  readDocuments,
} from "../index/ingest.ts";
import {
  type AddProgress,
  addDocuments,
  buildAnnIndex,
  defaultAnnType,
  deleteDocuments,
  DUPLICATE_POLICIES,
} from "../index/indexer.ts";
import { checkSameAgg } from "../index/manifest.ts";
import { VECTOR_TYPES } from "../index/pg-sql.ts";
import { type LanguageDetector, loadLanguageDetector } from "../text/langid.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import { aggVocabOption, checkAggApplies, givenAgg, givenAggVocabs } from "./agg-options.ts";
import {
  aggModeOption,
  dtypeOption,
  lowercaseOptions,
  positiveInt,
  nonNegativeInt,
  threadsOption,
  storeOption,
} from "./options.ts";
import { givenPrompts, passagePrefixOption, queryPrefixOption, recordedPrompts } from "./prefix-options.ts";
import { progressBar } from "./progress.ts";

export function indexCommand(): Command {
  const [lowercase, noLowercase] = lowercaseOptions();
  return new Command("index")
    .description("add documents to a collection (created on first use), or delete documents from it")
    .argument("<collection>", "collection name (a folder under $XLIR_HOME/collections)")
    .option(
      "--model <id-or-dir>",
      'encoder: hub id (e.g. intfloat/multilingual-e5-small), model folder, or "bm25" (lexical only, no model); needed to create the collection',
    )
    .option(
      "--input <path>",
      "JSONL, BEIR corpus.jsonl, TSV (id<TAB>text), or a folder of .txt/.md files; - reads JSONL from standard input",
    )
    .addOption(
      new Option("--format <format>", "input format (default: from the path)").choices([...INPUT_FORMATS]),
    )
    .option(
      "--lang <code>",
      'language of documents that give none: an NLLB-200 code or alias (de, hin_Deva), or "auto" to detect',
      "auto",
    )
    .option(
      "--chunk-tokens <n>",
      "chunk window in encoder tokens (default: the model's max length)",
      positiveInt,
    )
    .option(
      "--overlap <n>",
      "tokens shared by consecutive chunks (default: 1/8 of the window)",
      nonNegativeInt,
    )
    .option(
      "--doc-score <how>",
      "document score from its chunks: max, sum or sum:K (recorded as the default for searches)",
      "max",
    )
    .addOption(
      new Option(
        "--similarity <s>",
        "override the model's similarity (default: cosine when it normalises)",
      ).choices(["cosine", "dot"]),
    )
    .option("--batch-size <n>", "documents per commit (a crash loses at most one batch)", positiveInt, 256)
    .option("--encode-batch <n>", "texts per encoder batch", positiveInt, 32)
    .addOption(threadsOption())
    .option("--revision <rev>", "hub revision (branch, tag or commit) of --model")
    .addOption(dtypeOption("float32; an existing collection: the one it was built with"))
    .addOption(queryPrefixOption("; recorded in the collection, and used by every later search"))
    .addOption(passagePrefixOption("; recorded in the collection"))
    .addOption(aggModeOption())
    .addOption(lowercase)
    .addOption(noLowercase)
    .addOption(
      aggVocabOption(
        "one per language, stored in the collection (a language's set cannot be replaced once stored)",
      ),
    )
    .option(
      "--adapter-fallback <lang>",
      "ColBERT-XM: the adapter for documents in a language the model has none for (e.g. en_XX; default: refuse them)",
    )
    .option("--allow-model-change", "extend a collection even though its model's weights changed since")
    .option("--skip-empty", "skip documents with empty text instead of stopping", false)
    .addOption(
      new Option("--on-duplicate <keep>", "an id read twice: keep the last, the first, or stop with an error")
        .choices([...DUPLICATE_POLICIES])
        .default("last"),
    )
    .option(
      "--build-ann [type]",
      "build the ANN index now, whatever the size: hnsw_sq (default for cosine collections) or ivf_pq (default for dot product); hnsw or hnsw_bq (binary-quantised, re-ranked) on a PostgreSQL store; plaid for ColBERT collections",
    )
    .option(
      "--ann-threshold <n>",
      "build the ANN index automatically from this many chunks up (new collections)",
      positiveInt,
    )
    .option("--delete <ids...>", "delete these document ids instead of adding")
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .addOption(storeOption())
    .option("--distributed", "PostgreSQL with Citus, on create: distribute the tables by document id")
    .addOption(
      new Option(
        "--vector-type <type>",
        "PostgreSQL, on create: store vectors as float32 (vector) or float16 (halfvec: half the bytes) (default: vector)",
      ).choices([...VECTOR_TYPES]),
    )
    .option(
      "--parallel",
      "PostgreSQL: share the work with other xlir index --parallel runs of the same input (each batch embedded once)",
    )
    .option("--hnsw-m <n>", "PostgreSQL --build-ann hnsw: graph degree (default 16)", positiveInt)
    .option(
      "--hnsw-ef-construction <n>",
      "PostgreSQL --build-ann hnsw: build candidate list (default 64)",
      positiveInt,
    )
    .option("--json", "print progress and the summary as JSON lines")
    .action(async (name: string, o) => {
      if (o.delete) return runDelete(name, o);
      if (!o.input && !o.buildAnn && !o.aggVocab)
        throw new Error(
          "give --input FILE_OR_DIR with the documents to index (or --delete IDS, --build-ann, or --agg-vocab FILES)",
        );
      const loc: LocateOptions = {
        home: o.home,
        store: o.store,
        distributed: o.distributed,
        hnsw: { m: o.hnswM, efConstruction: o.hnswEfConstruction },
        vectorType: o.vectorType,
      };
      const exists = await Collection.exists(name, loc);
      if (!exists && !o.model)
        throw new Error(
          `collection "${name}" does not exist yet: give --model ID_OR_DIR (or --model bm25) to create it`,
        );
      if (o.buildAnn && !["ivf_pq", "hnsw_sq", "hnsw", "hnsw_bq", "plaid", true].includes(o.buildAnn)) {
        throw new Error(
          `--build-ann ${o.buildAnn}: choose ivf_pq or hnsw_sq (embedded store), hnsw or hnsw_bq (PostgreSQL), plaid (multi-vector)`,
        );
      }
      // Everything the input and options can get wrong is checked before a collection is created
      // or opened for writing, so a failed first run leaves nothing behind.
      if (o.lang !== "auto") {
        try {
          resolveNllbLang(o.lang);
        } catch (e) {
          throw new Error(`--lang ${o.lang}: ${(e as Error).message}`, { cause: e });
        }
      }
      const format: InputFormat | undefined = o.input ? (o.format ?? detectFormat(o.input)) : undefined;
      const total = o.input ? await countDocuments(o.input, format!) : 0;
      const input: DocSource = {
        docs: () => readDocuments(o.input, format!, { skipEmpty: Boolean(o.skipEmpty) }),
        detect: async () => (input.detector ??= await loadLanguageDetector()),
      };
      let enc: Encoder | null = null;
      let colbert: ColbertModel | null = null;
      let col: Collection;
      let vocabs: GivenVocab[] = [];
      if (exists && !o.model) {
        // extending a collection: its own encoder, from collection.json
        col = await Collection.open(name, loc);
        try {
          const c = col.manifest.chunking;
          if (
            (o.chunkTokens !== undefined && o.chunkTokens !== c?.tokens) ||
            (o.overlap !== undefined && o.overlap !== c?.overlap)
          ) {
            throw new Error(
              `collection "${name}" is chunked ${c ? `at ${c.tokens} tokens with overlap ${c.overlap}` : "one chunk per document"}: leave --chunk-tokens/--overlap out`,
            );
          }
          checkAggApplies(col.agg !== undefined, o, `the model of collection "${name}"`);
          if (col.agg) checkSameAgg(name, col.agg, givenAgg(o), "index into");
          const colbertOpts = {
            batchSize: o.encodeBatch,
            threads: o.threads,
            adapterFallback: o.adapterFallback,
          };
          if (col.multiVector) await col.colbert({ ...colbertOpts, allowModelChange: o.allowModelChange });
          const own = col.dense
            ? await col.encoder({
                batchSize: o.encodeBatch,
                threads: o.threads,
                dtype: o.dtype,
                prompts: givenPrompts(o),
                allowModelChange: o.allowModelChange,
              })
            : null;
          vocabs = await checkAggInput(name, own, input, o);
        } catch (e) {
          await col.close();
          throw e;
        }
      } else {
        // a ColBERT checkpoint (artifact.metadata beside its weights) makes a multi-vector collection
        if (o.model !== "bm25" && isColbertFolder(await resolveModel(o.model, { revision: o.revision }))) {
          colbert = await ColbertModel.load(o.model, {
            batchSize: o.encodeBatch,
            threads: o.threads,
            adapterFallback: o.adapterFallback,
            hub: { revision: o.revision },
          });
        } else if (o.model !== "bm25") {
          const stored = await storedVocabs(name, loc, exists);
          enc = await Encoder.load(o.model, {
            batchSize: o.encodeBatch,
            threads: o.threads,
            dtype: o.dtype,
            hub: { revision: o.revision },
            // an existing collection's prefixes, unless given: what its documents were embedded with
            prompts: { ...(exists ? await recordedPrompts(name, loc) : {}), ...givenPrompts(o) },
            agg: {
              ...givenAgg(o),
              vocab: (l) => vocabs.find((v) => v.vocab.lang === l)?.vocab.ids ?? stored.get(l)?.ids,
            },
          });
        }
        try {
          checkAggApplies(enc !== null && enc.aggMode !== null, o, o.model);
          vocabs = await checkAggInput(name, enc, input, o);
          col = await Collection.openOrCreate(name, {
            ...loc,
            model: enc ?? colbert ?? "bm25",
            revision: o.revision ?? null,
            chunking:
              o.chunkTokens !== undefined || o.overlap !== undefined
                ? { tokens: o.chunkTokens, overlap: o.overlap }
                : undefined,
            docScore: parseDocScore(o.docScore),
            similarity: o.similarity,
            annThreshold: o.annThreshold,
            allowModelChange: o.allowModelChange,
          });
        } catch (e) {
          await enc?.close();
          await colbert?.close();
          throw e;
        }
      }
      let discard = false;
      try {
        try {
          if (vocabs.length) await storeVocabs(col, vocabs, o);
          if (o.input) await runAdd(col, input, total, o);
        } catch (e) {
          // a first run that failed before its first document was committed leaves no collection
          discard = !exists && (await col.store.countDocs()) === 0;
          throw e;
        }
        if (o.buildAnn) {
          const unlock = await col.lock();
          try {
            await buildAnnIndex(
              col,
              o.buildAnn === true ? defaultAnnType(col) : o.buildAnn,
              await col.store.countChunks(),
            );
          } finally {
            await unlock();
          }
          say(
            o,
            { event: "ann", collection: name, index: col.manifest.ann.index },
            `built the ${col.manifest.ann.index!.type} ANN index of "${name}"`,
          );
        }
      } finally {
        await col.close();
        await enc?.close();
        await colbert?.close();
        if (discard) await deleteCollection(name, loc);
      }
    });
}

/** The documents to index, read anew by each call (target mode reads them once before indexing). */
interface DocSource {
  docs: () => AsyncIterable<InputDoc> | Iterable<InputDoc>;
  detect: () => Promise<LanguageDetector>;
  /** The language detector, once loaded: the indexer reuses it. */
  detector?: LanguageDetector;
}

type GivenVocab = { vocab: AggVocab; path: string };

/**
 * Target mode, before anything is written: the --agg-vocab sets are for this model and replace no
 * stored set, and every input document's language has a set (given or stored). Returns the sets
 * to store. Standard input is read into memory here, since it cannot be read twice.
 */
async function checkAggInput(
  name: string,
  enc: Encoder | null,
  input: DocSource,
  o: Record<string, unknown>,
): Promise<GivenVocab[]> {
  if (enc === null || enc.aggMode === null) return [];
  const model = { id: enc.id, tokenizer: enc.tokenizerFingerprint, lowercase: enc.settings.lowerCase };
  const given = givenAggVocabs(o, enc.aggMode, model);
  const loc = { home: o.home as string | undefined, store: o.store as string | undefined };
  const stored = await storedVocabs(name, loc, await Collection.exists(name, loc));
  freshAggVocabs(stored, name, given.values());
  if (enc.aggMode !== "target" || !o.input) return [...given.values()];
  if (o.input === "-") {
    const all: InputDoc[] = [];
    for await (const d of input.docs()) all.push(d);
    input.docs = () => all;
  }
  const has = (lang: string) => given.has(lang) || stored.has(lang);
  const missing = await langsWithoutVocab(input.docs(), o.lang as string, has, input.detect);
  if (missing.length) {
    const [first] = missing;
    throw new Error(
      `--agg-mode target: no token set for ${missing.map((m) => m.lang).join(", ")} (a document at ${first.source}); ` +
        `make one per language with xlir agg-vocab --model ${enc.id} --corpus ${o.input} --lang ${first.lang} ` +
        `--out ${first.lang}.json and give it with --agg-vocab; nothing was indexed`,
    );
  }
  return [...given.values()];
}

/** The token sets an existing collection holds (none for a new one). */
async function storedVocabs(
  name: string,
  loc: LocateOptions,
  exists: boolean,
): Promise<ReadonlyMap<string, AggVocab>> {
  if (!exists) return new Map();
  const col = await Collection.open(name, loc);
  try {
    return col.aggVocabSets;
  } finally {
    await col.close();
  }
}

/** Stores the token sets new to the collection, under its lock, and says which. */
async function storeVocabs(col: Collection, vocabs: GivenVocab[], o: Record<string, unknown>): Promise<void> {
  const unlock = await col.lock();
  let langs: string[];
  try {
    langs = await col.addAggVocabs(vocabs);
  } finally {
    await unlock();
  }
  if (langs.length)
    say(
      o,
      { event: "agg-vocab", collection: col.name, langs },
      `stored the token sets of ${langs.join(", ")} in "${col.name}"`,
    );
}

async function runAdd(
  col: Collection,
  input: DocSource,
  total: number,
  o: Record<string, unknown>,
): Promise<void> {
  const bar = o.json ? () => {} : progressBar(`indexing ${col.name}`, total);
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write(
      "\nxlir: committing what was read, then stopping (Ctrl-C again to quit now; a rerun resumes)\n",
    );
  };
  process.on("SIGINT", onSigint);
  async function* until(docs: AsyncIterable<InputDoc> | Iterable<InputDoc>) {
    for await (const d of docs) {
      if (stop) return;
      yield d;
    }
  }
  const t0 = Date.now();
  try {
    const p = await addDocuments(col, until(input.docs()), {
      lang: o.lang as string,
      detector: input.detector,
      batchSize: o.batchSize as number,
      onDuplicate: o.onDuplicate as "last" | "first" | "error",
      ann: o.buildAnn ? false : "auto",
      shared: Boolean(o.parallel),
      onProgress: (x) => {
        if (o.json)
          process.stdout.write(
            JSON.stringify({ event: "progress", collection: col.name, total, ...x }) + "\n",
          );
        else bar(x.read, Math.max(total, x.read));
      },
    });
    const secs = (Date.now() - t0) / 1000;
    say(
      o,
      { event: "done", collection: col.name, ...p, seconds: secs, stopped: stop },
      `${stop ? "stopped: " : ""}${p.read} documents read into "${col.name}": ${p.added} added, ${p.updated} updated, ` +
        `${p.unchanged} unchanged${p.duplicates ? `, ${p.duplicates} duplicate ids` : ""}` +
        `${o.parallel ? `, ${p.elsewhere} in batches other writers took` : ""}; ` +
        `${p.chunks} chunks written in ${secs.toFixed(1)} s`,
    );
    if (p.duplicates) process.stderr.write(`xlir: ${duplicateWarning(p, o.onDuplicate as string)}\n`);
    // a script must see that the run did not finish: 130, as a shell reports SIGINT (a rerun resumes)
    if (stop) process.exitCode = 130;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** "2 ids were read more than once (kept the last): "a" at docs.jsonl:4 (first at docs.jsonl:1), ..." */
export function duplicateWarning(p: AddProgress, keep: string): string {
  const shown = p.duplicateExamples.map((d) => `"${d.id}" at ${d.source} (first at ${d.first})`).join(", ");
  const more = p.duplicates > p.duplicateExamples.length ? ", ..." : "";
  return (
    `${p.duplicates} document(s) repeat an id read earlier in this input (kept the ${keep}): ${shown}${more}; ` +
    `make ids unique, or choose with --on-duplicate last|first|error`
  );
}

async function runDelete(name: string, o: Record<string, unknown>): Promise<void> {
  const col = await Collection.open(name, {
    home: o.home as string | undefined,
    store: o.store as string | undefined,
  });
  try {
    const ids = (o.delete as string[]).flatMap((s) => s.split(",")).filter(Boolean);
    const missing = await deleteDocuments(col, ids);
    say(
      o,
      { event: "deleted", collection: name, deleted: ids.length - missing.length, missing },
      `deleted ${ids.length - missing.length} document(s) from "${name}"` +
        (missing.length ? `; not found: ${missing.join(", ")}` : ""),
    );
  } finally {
    await col.close();
  }
}

function say(o: Record<string, unknown>, json: object, text: string): void {
  if (o.json) process.stdout.write(JSON.stringify(json) + "\n");
  else process.stdout.write(text + "\n");
}
