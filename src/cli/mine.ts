// xlir mine: hard negatives for training pairs from an existing collection (BM25 or dense), as
// sentence-transformers' mine_hard_negatives / Pyserini-style mining. Reads the pairs (every format
// readPairs takes), searches each query, keeps hits ranked within --ranks minus the positive and
// its near-duplicates, and writes the rows with "negatives" filled as JSONL (src/index/mine.ts).

import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { Collection } from "../index/collection.ts";
import { DEFAULT_NUM_NEGATIVES, mineToFile, parseRanks, type RankRange } from "../index/mine.ts";
import { loadLanguageGuesser } from "../text/langid.ts";
import { loadPairRecords, resolveLanguage } from "../train/pairs.ts";
import { dtypeOption, integer, positiveInt, threadsOption } from "./options.ts";
import { progressBar } from "./progress.ts";

const ranksOption = (value: string): RankRange => {
  try {
    return parseRanks(value);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
};

export function mineCommand(): Command {
  return new Command("mine")
    .description("mine hard negatives for training pairs by searching a collection")
    .requiredOption("--collection <name>", "the collection to search (xlir index NAME ...)")
    .requiredOption(
      "--data <files...>",
      "training pairs: JSONL (query, positive, ...; SWIM-IR; sentence-transformers) or TSV query<TAB>positive",
    )
    .requiredOption(
      "--ranks <from-to>",
      "take negatives from the hits ranked FROM to TO (1-based), e.g. 10-50",
      ranksOption,
    )
    .requiredOption("--out <file>", "the JSONL to write: each row with its mined negatives")
    .option("--num <n>", `most negatives per row (default ${DEFAULT_NUM_NEGATIVES})`, positiveInt)
    .addOption(
      new Option("--mode <mode>", "how to search (default: the collection's own: dense, or bm25)").choices([
        "dense",
        "bm25",
        "hybrid",
      ]),
    )
    .option(
      "--lang <code>",
      'language of queries whose row has none: a code or alias, or "auto" to detect',
      "auto",
    )
    .addOption(
      new Option("--sampling <how>", "which hits in range: the best ranked, or a seeded random draw")
        .choices(["top", "random"])
        .default("top"),
    )
    .option("--seed <n>", "seed of --sampling random", integer({ min: 0 }), 42)
    .addOption(threadsOption())
    .addOption(dtypeOption("the one the collection was built with"))
    .option("--home <dir>", "xlir home holding the collections (default: $XLIR_HOME or ~/.xlir)")
    .option("--allow-model-change", "search even though the model's weights changed since indexing")
    .action(async (o) => {
      const out = resolve(o.out as string);
      const data = o.data as string[];
      if (data.some((d) => resolve(d) === out))
        throw new Error(`--out ${o.out} is also an input (--data): write the mined pairs to another file`);
      const folder = dirname(out);
      if (!existsSync(folder) || !statSync(folder).isDirectory())
        throw new Error(`--out ${o.out}: folder ${folder} does not exist; create it or give another path`);
      let lang = o.lang as string;
      if (lang !== "auto") {
        try {
          lang = resolveLanguage(lang);
        } catch (e) {
          throw new Error(`--lang: ${(e as Error).message}`, { cause: e });
        }
      }
      // every row checked before any search
      // rows without a language take --lang's (written out for TSV rows); "auto" is left to search,
      // which reads a short query it cannot place in every language of the collection
      const records = await loadPairRecords(data, lang === "auto" ? {} : { defaultLang: lang });
      const col = await Collection.open(o.collection, { home: o.home });
      try {
        const mode = o.mode ?? (col.neural ? "dense" : "bm25");
        if (mode !== "bm25") {
          if (!col.neural)
            throw new Error(
              `collection "${o.collection}" is lexical only (built with --model bm25): use --mode bm25`,
            );
          // search loads a multi-vector collection's ColBERT model itself
          if (col.dense)
            await col.encoder({ threads: o.threads, dtype: o.dtype, allowModelChange: o.allowModelChange });
        }
        const auto = lang === "auto" && records.some((r) => r.lang === undefined);
        const detector = auto ? await loadLanguageGuesser() : undefined;
        const bar = progressBar(`mining ${o.collection}`, records.length);
        process.stderr.write(
          `xlir: mining ${records.length} pairs in "${o.collection}" (${mode}), ranks ${o.ranks.from}-${o.ranks.to}\n`,
        );
        const stats = await mineToFile(col, records, out, {
          ranks: o.ranks,
          num: o.num,
          mode,
          lang,
          detector,
          sampling: o.sampling,
          seed: o.seed,
          onProgress: (done, total) => bar(done, total),
        });
        const short = stats.short
          ? `; ${stats.short} rows got fewer than ${o.num ?? DEFAULT_NUM_NEGATIVES} (widen --ranks for more)`
          : "";
        process.stderr.write(
          `xlir: wrote ${o.out}: ${stats.rows} rows, ${stats.negatives} negatives ` +
            `(${stats.positivesDropped} hits dropped as the positive or a near-duplicate)${short}\n`,
        );
      } finally {
        await col.close();
      }
    });
}
