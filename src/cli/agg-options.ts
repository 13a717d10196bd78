// Aggretriever options as given on a command line (they are defined in options.ts), and the checks
// every command makes of them before doing any work.

import { Option } from "commander";
import {
  type AggVocab,
  checkAggVocabFits,
  readAggVocabFiles,
  type VocabModel,
} from "../encode/agg-vocab-file.ts";
import type { AggSettings } from "../index/manifest.ts";
import type { AggMode } from "../models/aggretriever.ts";
import type { AggFlags } from "../encode/aggretriever.ts";

export { checkAggApplies } from "../encode/aggretriever.ts";

/** --agg-vocab FILE...: token sets written by xlir agg-vocab. */
export const aggVocabOption = (use: string) =>
  new Option("--agg-vocab <files...>", `target mode: token sets written by xlir agg-vocab, ${use}`);

/** The Aggretriever settings given (those not given left out). */
export function givenAgg(o: AggFlags): Partial<AggSettings> {
  return {
    ...(o.aggMode === undefined ? {} : { mode: o.aggMode }),
    ...(o.lowercase === undefined ? {} : { lowercase: o.lowercase }),
  };
}

/**
 * The --agg-vocab files, read and checked against the model they will encode with (`mode` its
 * lexical mode): sets are for target mode only, made for this model and its lowercasing.
 */
export function givenAggVocabs(
  o: AggFlags,
  mode: AggMode | null,
  model: VocabModel,
): Map<string, { vocab: AggVocab; path: string }> {
  const sets = readAggVocabFiles(o.aggVocab ?? []);
  if (sets.size && mode !== "target")
    throw new Error(
      `--agg-vocab: token sets are for --agg-mode target, and ${model.id} encodes with --agg-mode ${mode}; leave --agg-vocab out, or give --agg-mode target`,
    );
  for (const { vocab, path } of sets.values()) checkAggVocabFits(vocab, path, model);
  return sets;
}
