// xlir augment: more training queries by translate -> paraphrase -> back-translate (src/train/augment.ts),
// written as pairs `xlir train` reads. Translation backends: Apertium's APY server (a running one, or
// one this command starts), or the in-process NLLB-200 / Marian models; paraphrase backends: an
// OpenAI-compatible chat-completions endpoint, a pivot round trip, or none.

import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, Option } from "commander";
import { ApertiumClient, DEFAULT_APERTIUM_URL } from "../generate/apertium.ts";
import { startApertium, type ApertiumServer } from "../generate/apertium-server.ts";
import type { Translator } from "../generate/translator.ts";
import { DROP_REASONS, DEFAULT_FILTERS } from "../train/augment-filters.ts";
import { DEFAULT_AUGMENT_BATCH, ENGLISH, augmentToFile, type AugmentSummary } from "../train/augment.ts";
import { loadPairRecords, resolveLanguage } from "../train/pairs.ts";
import {
  DEFAULT_LLM_URL,
  LlmParaphraser,
  NoParaphraser,
  PivotParaphraser,
  type Paraphraser,
} from "../train/paraphrase.ts";
import { decimal, integer, positiveInt, threadsOption } from "./options.ts";
import { progressBar } from "./progress.ts";

export function augmentCommand(): Command {
  return new Command("augment")
    .description("add training queries by translating them to English, paraphrasing and translating back")
    .requiredOption("--data <files...>", "training pairs, as xlir train reads them (JSONL or TSV)")
    .requiredOption("--out <file>", "the JSONL to write: the new pairs (OUT.partial until done)")
    .requiredOption("--langs <codes>", "query languages to augment, comma-separated (es,bn or spa_Latn,...)")
    .addOption(
      new Option("--translate <backend>", "translation: Apertium's APY, or an in-process model (--model)")
        .choices(["apertium", "nllb", "marian"])
        .makeOptionMandatory(),
    )
    .addOption(
      new Option("--paraphrase <backend>", "English paraphrases: an LLM, a pivot round trip, or none")
        .choices(["llm", "pivot", "none"])
        .makeOptionMandatory(),
    )
    .option(
      "--variants <n>",
      "paraphrases asked for per query (pivot: one per pivot language)",
      positiveInt,
      3,
    )
    .option(
      "--lang <code>",
      'language of queries whose row has none: a code or alias, or "auto" to detect',
      "auto",
    )
    .option("--apertium-url <url>", `a running APY server (default ${DEFAULT_APERTIUM_URL})`)
    .option("--start-apertium", "start Debian's apertium-apy on 127.0.0.1 for this run")
    .option("--model <dir>", "nllb: the NLLB-200 / M2M100 model; marian: the model into English")
    .option("--back-model <dir>", "marian: the model from English back to the query language")
    .option("--beams <n>", "nllb/marian: beam width (default: the model's generation config)", positiveInt)
    .addOption(threadsOption())
    .option(
      "--pivot-lang <codes>",
      "pivot: the language(s) English goes through, comma-separated",
      "spa_Latn",
    )
    .option("--llm-url <url>", "llm: the API's base URL", DEFAULT_LLM_URL)
    .option("--llm-model <name>", "llm: the model to ask")
    .option("--llm-key-env <name>", "llm: the environment variable holding the API key", "OPENAI_API_KEY")
    .option("--temperature <t>", "llm: sampling temperature", decimal({ min: 0, max: 2 }), 0.8)
    .option("--llm-timeout <seconds>", "llm: per request", decimal({ above: 0 }), 60)
    .option(
      "--llm-retries <n>",
      "llm: further tries on timeouts, HTTP 429/5xx and unreadable answers",
      integer({ min: 0, max: 10 }),
      3,
    )
    .option("--llm-concurrency <n>", "llm: requests in flight", integer({ min: 1, max: 64 }), 4)
    .option(
      "--min-ratio <r>",
      "drop variants shorter than this x the query",
      decimal({ min: 0 }),
      DEFAULT_FILTERS.minRatio,
    )
    .option(
      "--max-ratio <r>",
      "drop variants longer than this x the query",
      decimal({ above: 0 }),
      DEFAULT_FILTERS.maxRatio,
    )
    .option(
      "--dup-jaccard <j>",
      "drop variants whose word-set Jaccard with the query or a kept variant is at least this",
      decimal({ above: 0, max: 1 }),
      DEFAULT_FILTERS.jaccard,
    )
    .option("--no-keep-numbers", "keep variants that lost a number of the query")
    .option("--no-keep-names", "keep variants that lost a proper noun or foreign-script term of the query")
    .option("--include-original", "write the input rows to OUT too, each before its variants")
    .option(
      "--batch <n>",
      "queries per pipeline step (a crash redoes at most one)",
      positiveInt,
      DEFAULT_AUGMENT_BATCH,
    )
    .option("--json", "print the summary as JSON on standard output")
    .action(async (o) => {
      const out = resolve(o.out as string);
      const data = o.data as string[];
      if (data.some((d) => resolve(d) === out))
        throw new Error(`--out ${o.out} is also an input (--data): write the new pairs to another file`);
      const folder = dirname(out);
      if (!existsSync(folder) || !statSync(folder).isDirectory())
        throw new Error(`--out ${o.out}: folder ${folder} does not exist; create it or give another path`);
      const langs = codes(o.langs as string, "--langs");
      let lang = o.lang as string;
      if (lang !== "auto") lang = codes(lang, "--lang")[0];
      const pivots = codes(o.pivotLang as string, "--pivot-lang");
      if (pivots.includes(ENGLISH))
        throw new Error("--pivot-lang: English is what is paraphrased; give another language, e.g. spa");
      if (o.startApertium && o.apertiumUrl)
        throw new Error("give --apertium-url or --start-apertium, not both");
      if (o.translate !== "apertium" && (o.startApertium || o.apertiumUrl))
        throw new Error(
          `--apertium-url and --start-apertium are for --translate apertium, not ${o.translate}`,
        );
      const paraphraseSetup = llmSetup(o); // option errors before anything starts

      const records = await loadPairRecords(data, { defaultLang: lang });
      const wanted = new Set(langs);
      const present = [...new Set(records.flatMap((r) => (r.lang && wanted.has(r.lang) ? [r.lang] : [])))];

      let apy: ApertiumServer | undefined;
      let translator: Translator | undefined;
      let stop = false;
      const onSigint = () => {
        if (stop) process.exit(130);
        stop = true;
        process.stderr.write(
          "\nxlir: finishing this batch; the same command continues from OUT.partial (Ctrl-C again to quit now)\n",
        );
      };
      process.on("SIGINT", onSigint);
      try {
        if (o.translate === "apertium") {
          if (o.startApertium) apy = await startApertium({ host: "127.0.0.1", port: 0 });
          const client = new ApertiumClient(apy?.url ?? o.apertiumUrl ?? DEFAULT_APERTIUM_URL);
          // every direction the run needs, checked before the first query
          for (const l of present.filter((x) => x !== ENGLISH)) {
            await client.resolvePair(l, ENGLISH);
            await client.resolvePair(ENGLISH, l);
          }
          if (o.paraphrase === "pivot")
            for (const p of pivots.slice(0, o.variants)) {
              await client.resolvePair(ENGLISH, p);
              await client.resolvePair(p, ENGLISH);
            }
          translator = client;
        } else {
          translator = await seq2seqTranslator(o);
        }
        const paraphraser: Paraphraser =
          o.paraphrase === "llm"
            ? new LlmParaphraser(paraphraseSetup!)
            : o.paraphrase === "pivot"
              ? new PivotParaphraser(translator, pivots)
              : new NoParaphraser();
        const bar = progressBar("augmenting", 1);
        const summary = await augmentToFile(records, out, {
          translator,
          paraphraser,
          langs,
          variants: o.paraphrase === "none" ? 1 : o.variants,
          filters: {
            minRatio: o.minRatio,
            maxRatio: o.maxRatio,
            jaccard: o.dupJaccard,
            keepNumbers: o.keepNumbers,
            keepNames: o.keepNames,
          },
          includeOriginal: Boolean(o.includeOriginal),
          batchSize: o.batch,
          settings:
            o.translate === "apertium" ? {} : { model: o.model, backModel: o.backModel, beams: o.beams },
          onProgress: (done, total) => bar(done, total),
          stopped: () => stop,
        });
        report(summary, o.out as string, Boolean(o.json));
      } finally {
        process.off("SIGINT", onSigint);
        await translator?.close?.();
        await apy?.stop();
      }
    });
}

/** A comma-separated list of language codes, aliases or names as NLLB-200 codes. */
function codes(text: string, option: string): string[] {
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length) throw new Error(`${option}: give one or more language codes, e.g. es,bn`);
  return [
    ...new Set(
      list.map((c) => {
        try {
          return resolveLanguage(c);
        } catch (e) {
          throw new Error(`${option}: ${(e as Error).message}`, { cause: e });
        }
      }),
    ),
  ];
}

function llmSetup(o: Record<string, unknown>) {
  if (o.paraphrase !== "llm") {
    if (o.llmModel !== undefined)
      throw new Error(`--llm-model is for --paraphrase llm, not ${o.paraphrase as string}`);
    return undefined;
  }
  if (o.llmModel === undefined)
    throw new Error("--paraphrase llm needs --llm-model NAME (the model the endpoint serves)");
  const keyEnv = o.llmKeyEnv as string;
  const apiKey = process.env[keyEnv];
  if (keyEnv !== "OPENAI_API_KEY" && !apiKey)
    throw new Error(
      `--llm-key-env ${keyEnv}: that environment variable is not set; export it with the API key`,
    );
  return {
    url: o.llmUrl as string,
    model: o.llmModel as string,
    apiKey,
    temperature: o.temperature as number,
    timeoutMs: (o.llmTimeout as number) * 1000,
    retries: o.llmRetries as number,
    concurrency: o.llmConcurrency as number,
  };
}

/**
 * nllb: one model for every direction. marian: opus-mt models are one direction each, so --model
 * translates into English and --back-model out of it (and through the pivot language).
 */
async function seq2seqTranslator(o: Record<string, unknown>): Promise<Translator> {
  const kind = o.translate as "nllb" | "marian";
  if (o.model === undefined)
    throw new Error(
      `--translate ${kind} needs --model DIR_OR_ID (the ${kind === "nllb" ? "NLLB-200" : "opus-mt xx-en"} model)`,
    );
  if (kind === "nllb" && o.backModel !== undefined)
    throw new Error(
      "--back-model is for --translate marian: NLLB-200 translates every direction with --model",
    );
  if (kind === "marian" && o.backModel === undefined)
    throw new Error(
      "--translate marian needs --back-model DIR_OR_ID too: the opus-mt model from English (en-xx)",
    );
  // loaded only here: the seq2seq runtime is heavy and Apertium runs need none of it
  const { createSeq2SeqTranslator, TRANSLATION_MODEL_FILES } =
    await import("../generate/seq2seq-translator.ts");
  const { resolveModel } = await import("../weights/hub.ts");
  const open = async (idOrDir: string) =>
    createSeq2SeqTranslator(await resolveModel(idOrDir, { files: TRANSLATION_MODEL_FILES }), {
      kind,
      threads: o.threads as number | undefined,
      beams: o.beams as number | undefined,
    });
  const into = await open(o.model as string);
  if (kind === "nllb") return into;
  let back: Translator;
  try {
    back = await open(o.backModel as string);
  } catch (e) {
    await into.close();
    throw e;
  }
  return {
    name: "marian",
    translate: (texts, from, to) =>
      (resolveLanguage(to) === ENGLISH ? into : back).translate(texts, from, to),
    close: async () => {
      await into.close();
      await back.close?.();
    },
  };
}

function report(s: AugmentSummary, out: string, json: boolean): void {
  const dropped = DROP_REASONS.filter((r) => s.dropped[r] > 0)
    .map((r) => `${r} ${s.dropped[r]}`)
    .join(", ");
  const lines = [
    `xlir: ${s.queries} queries (${s.resumed} done before), ${s.skippedRows} rows in other languages left as they are`,
    `xlir: ${s.variants} variants: kept ${s.kept}, dropped ${s.variants - s.kept}${dropped ? ` (${dropped})` : ""}`,
    s.complete
      ? `xlir: wrote ${out}: ${s.rows} new pairs${s.originals ? ` after their ${s.originals} original rows` : ""}`
      : `xlir: stopped; ${out}.partial holds what is done: run the same command to continue`,
  ];
  process.stderr.write(lines.join("\n") + "\n");
  if (json) process.stdout.write(JSON.stringify({ out, ...s }) + "\n");
}
