// Aggretriever options as given on a command line (they are defined in options.ts), and the checks
// every command makes of them before doing any work.

import { Option } from "commander";
import { type AggVocab, checkAggVocabFits, readAggVocabFiles, type VocabModel } from "../index/agg-vocab.ts";
import type { AggSettings } from "../index/manifest.ts";
import type { AggMode } from "../models/aggretriever.ts";

export interface AggFlags {
  aggMode?: AggMode;
  lowercase?: boolean;
  aggVocab?: string[];
  aggTarget?: string;
}

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

function aggFlags(o: AggFlags): string[] {
  const flags: [string, unknown][] = [
    ["--agg-mode", o.aggMode],
    [o.lowercase === false ? "--no-lowercase" : "--lowercase", o.lowercase],
    ["--agg-vocab", o.aggVocab],
    ["--agg-target", o.aggTarget],
  ];
  return flags.filter(([, v]) => v !== undefined).map(([f]) => f);
}

/** Refuses Aggretriever options for `what` (a model or collection) when it is not an Aggretriever one. */
export function checkAggApplies(isAgg: boolean, o: AggFlags, what: string): void {
  const flags = aggFlags(o);
  if (isAgg || flags.length === 0) return;
  const one = flags.length === 1;
  throw new Error(
    `${flags.join(", ")} appl${one ? "ies" : "y"} to Aggretriever model folders only: ${what} is not one; leave ${one ? "it" : "them"} out`,
  );
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
