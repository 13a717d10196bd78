// xlir agg-vocab: the token set of one language's corpus for Aggretriever's target mode
// (index/agg-vocab.ts), from an input file or from a collection's documents, written as JSON for
// `xlir index --agg-vocab` and `xlir embed --agg-vocab`.

import { existsSync } from "node:fs";
import { Command, Option } from "commander";
import { Encoder } from "../encode/encoder.ts";
import { buildAggVocab, collectionAggVocab, docsInLang, documentLang } from "../index/agg-vocab.ts";
import { writeAggVocab } from "../encode/agg-vocab-file.ts";
import { Collection } from "../index/collection.ts";
import { detectFormat, INPUT_FORMATS, type InputFormat, readDocuments } from "../index/ingest.ts";
import { givenAgg } from "./agg-options.ts";
import { lowercaseOptions, threadsOption } from "./options.ts";

export function aggVocabCommand(): Command {
  const [lowercase, noLowercase] = lowercaseOptions();
  return new Command("agg-vocab")
    .description("the token set of one language's corpus, for Aggretriever models in --agg-mode target")
    .requiredOption(
      "--corpus <file-or-collection>",
      "JSONL, BEIR corpus.jsonl, TSV or a folder of .txt/.md files (as xlir index reads them), or a collection's name",
    )
    .requiredOption(
      "--lang <code>",
      "the corpus language: an NLLB-200 code or alias (hi, hin_Deva); documents that give another language are left out",
    )
    .requiredOption("--out <file>", "the token set to write (JSON)")
    .option("--model <id-or-dir>", "the Aggretriever model (default: the collection's, when --corpus is one)")
    .addOption(
      new Option("--format <format>", "input format (default: from the path)").choices([...INPUT_FORMATS]),
    )
    .addOption(lowercase)
    .addOption(noLowercase)
    .addOption(threadsOption())
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .action(async (o) => {
      const lang = documentLang(o.lang, `--lang ${o.lang}`);
      const isFile = o.corpus === "-" || existsSync(o.corpus);
      if (!isFile && !Collection.exists(o.corpus, { home: o.home }))
        throw new Error(`--corpus ${o.corpus}: no such file or folder, and no collection of that name`);
      const format: InputFormat | undefined = isFile ? (o.format ?? detectFormat(o.corpus)) : undefined;
      const col = isFile ? null : await Collection.open(o.corpus, { home: o.home });
      let enc: Encoder | null = null;
      try {
        enc = await loadModel(col, o);
        const { vocab, documents } = col
          ? await collectionAggVocab(enc, col, lang)
          : await buildAggVocab(
              enc,
              lang,
              docsInLang(readDocuments(o.corpus, format, { skipEmpty: true }), lang),
            );
        if (documents === 0)
          throw new Error(
            `--corpus ${o.corpus} has no documents in ${lang}: check --lang (documents that give another language are left out)`,
          );
        writeAggVocab(o.out, vocab);
        process.stdout.write(
          `wrote ${o.out}: ${vocab.size} token ids of ${lang} from ${documents} document(s)\n`,
        );
      } finally {
        await enc?.close();
        await col?.close();
      }
    });
}

/**
 * --model, or the collection's own with its lowercasing; only the tokenizer is used, so the
 * encoder is loaded in self mode (no vocabulary projection).
 */
async function loadModel(col: Collection | null, o: Record<string, unknown>): Promise<Encoder> {
  const spec = col?.manifest.encoder;
  const recorded = o.model === undefined && spec?.kind === "dense" ? spec : undefined;
  const model = (o.model as string | undefined) ?? recorded?.model;
  if (model === undefined)
    throw new Error(
      col
        ? `collection "${col.name}" has no neural model (bm25): give --model with the Aggretriever model folder`
        : "give --model with the Aggretriever model folder whose tokenizer the set is for",
    );
  const enc = await Encoder.load(model, {
    threads: o.threads as number | undefined,
    hub: { revision: recorded?.revision ?? undefined },
    agg: { lowercase: recorded?.agg?.lowercase, ...givenAgg(o), mode: "self" },
  });
  if (enc.aggMode === null) {
    await enc.close();
    throw new Error(
      `${model} is not an Aggretriever model folder: token sets are for Aggretriever's --agg-mode target; give --model with one`,
    );
  }
  return enc;
}
