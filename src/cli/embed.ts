// xlir embed: texts in (lines or JSONL), one vector per text out (JSONL or .npy); with
// --multi-vector (ColBERT / ColBERT-XM checkpoints), every kept token's vector instead.

import { writeFileSync } from "node:fs";
import { Command, Option } from "commander";
import { ColbertModel } from "../encode/colbert.ts";
import { Encoder } from "../encode/encoder.ts";
import { npyBytes } from "../encode/npy.ts";
import type { AggVocab } from "../encode/agg-vocab-file.ts";
import type { AggMode } from "../models/aggretriever.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import { aggVocabOption, checkAggApplies, givenAgg, givenAggVocabs } from "./agg-options.ts";
import { readTexts } from "./input.ts";
import { givenPrompts, passagePrefixOption, queryPrefixOption } from "./prefix-options.ts";
import { aggModeOption, dtypeOption, lowercaseOptions, positiveInt, threadsOption } from "./options.ts";
import { progressBar } from "./progress.ts";

export function embedCommand(): Command {
  const [lowercase, noLowercase] = lowercaseOptions();
  return new Command("embed")
    .description("embed texts with a Hugging Face encoder (hub id or local folder)")
    .requiredOption("--model <id-or-dir>", "hub id (e.g. intfloat/multilingual-e5-small) or model folder")
    .addOption(
      new Option("--role <role>", "query or passage (selects the model's prefix)")
        .choices(["query", "passage"])
        .default("passage"),
    )
    .option(
      "--lang <code>",
      "language of the texts for NLLB models (FLORES-200 code or alias, e.g. hin_Deva, hi; auto detects it per text)",
    )
    .option("--input <file>", "one text per line, or JSONL with a text field; - for standard input", "-")
    .option("--field <name>", "the JSONL text field", "text")
    .option("--output <file>", "where to write (default: standard output; required for npy)")
    .addOption(new Option("--format <format>", "output format").choices(["jsonl", "npy"]).default("jsonl"))
    .option("--batch-size <n>", "texts per batch", positiveInt, 32)
    .addOption(threadsOption())
    .option("--revision <rev>", "hub revision (branch, tag or commit)")
    .addOption(dtypeOption("float32"))
    .addOption(queryPrefixOption())
    .addOption(passagePrefixOption())
    .addOption(aggModeOption())
    .addOption(lowercase)
    .addOption(noLowercase)
    .addOption(aggVocabOption("one per language (--lang picks the one used)"))
    .option(
      "--multi-vector",
      "ColBERT(-XM) models: one vector per kept token (JSONL: ids and vectors per text; npy: all token rows, with FILE.tokens.json saying whose)",
    )
    .action(async (o) => {
      if (o.format === "npy" && !o.output)
        throw new Error("--format npy writes binary data: give --output FILE.npy");
      const texts = readTexts(o.input, o.field);
      if (o.multiVector) return embedTokens(texts, o);
      let sets = new Map<string, { vocab: AggVocab }>();
      const enc = await Encoder.load(o.model, {
        batchSize: o.batchSize,
        threads: o.threads,
        dtype: o.dtype,
        hub: { revision: o.revision },
        prompts: givenPrompts(o),
        agg: { ...givenAgg(o), vocab: (lang) => sets.get(nllbOr(lang))?.vocab.ids },
      });
      try {
        checkAggApplies(enc.aggMode !== null, o, o.model);
        const model = { id: o.model, tokenizer: enc.tokenizerFingerprint, lowercase: enc.settings.lowerCase };
        sets = givenAggVocabs(o, enc.aggMode, model);
        const bar = progressBar("embedding", texts.length);
        const emb = await enc.embed(
          texts.map((t) => t.text),
          { role: o.role, lang: textsLang(o.lang, enc.aggMode, [...sets.keys()]), onProgress: bar },
        );
        const [n, d] = emb.dims;
        if (o.format === "npy") writeFileSync(o.output, npyBytes(emb.data, emb.dims));
        else {
          const lines = texts.map((t, i) => {
            const v = Array.from(emb.data.subarray(i * d, (i + 1) * d));
            return JSON.stringify(t.id === undefined ? { embedding: v } : { id: t.id, embedding: v });
          });
          const body = lines.join("\n") + (n ? "\n" : "");
          if (o.output) writeFileSync(o.output, body);
          else process.stdout.write(body);
        }
      } finally {
        await enc.close();
      }
    });
}

/** A language code as NLLB spells it, or the code itself when it is none (the set lookup then fails). */
function nllbOr(lang: string): string {
  try {
    return resolveNllbLang(lang);
  } catch {
    return lang;
  }
}

/** --lang, or in target mode with a single token set given, that set's language. */
function textsLang(lang: string | undefined, mode: AggMode | null, setLangs: string[]): string | undefined {
  if (mode !== "target" || lang !== undefined) return lang;
  if (setLangs.length === 0)
    throw new Error(
      "--agg-mode target predicts over a language's token set: give --agg-vocab FILE (made by xlir agg-vocab --model M --corpus C --lang L)",
    );
  if (setLangs.length > 1)
    throw new Error(
      `--agg-vocab gives token sets of ${setLangs.join(", ")}: pick the texts' language with --lang`,
    );
  return setLangs[0];
}

/** --multi-vector: per-token vectors of a ColBERT(-XM) model (queries padded with its mask tokens). */
async function embedTokens(
  texts: { id?: string; text: string }[],
  o: Record<string, unknown>,
): Promise<void> {
  const model = await ColbertModel.load(o.model as string, {
    batchSize: o.batchSize as number,
    threads: o.threads as number | undefined,
    hub: { revision: o.revision as string | undefined },
  });
  try {
    const lang = o.lang as string | undefined;
    const plain = texts.map((t) => t.text);
    const out =
      o.role === "query"
        ? await model.encodeQueries(plain, { lang })
        : await model.encodeDocuments(plain, { lang });
    if (o.format === "npy") {
      const dim = out[0]?.dims[1] ?? model.spec.dim;
      const rows = out.reduce((n, v) => n + v.dims[0], 0);
      const all = new Float32Array(rows * dim);
      const index: { id?: string; start: number; tokens: number; ids: number[] }[] = [];
      let at = 0;
      out.forEach((v, i) => {
        all.set(v.vectors, at * dim);
        index.push({
          ...(texts[i].id === undefined ? {} : { id: texts[i].id }),
          start: at,
          tokens: v.dims[0],
          ids: v.ids,
        });
        at += v.dims[0];
      });
      writeFileSync(o.output as string, npyBytes(all, [rows, dim]));
      writeFileSync(`${o.output}.tokens.json`, JSON.stringify(index) + "\n");
      return;
    }
    const lines = out.map((v, i) => {
      const vectors = Array.from({ length: v.dims[0] }, (_, t) =>
        Array.from(v.vectors.subarray(t * v.dims[1], (t + 1) * v.dims[1])),
      );
      return JSON.stringify({
        ...(texts[i].id === undefined ? {} : { id: texts[i].id }),
        ids: v.ids,
        vectors,
      });
    });
    const body = lines.join("\n") + (lines.length ? "\n" : "");
    if (o.output) writeFileSync(o.output as string, body);
    else process.stdout.write(body);
  } finally {
    await model.close();
  }
}
