// Options several commands share, and the one strict parser for every number option.

import { InvalidArgumentError, Option } from "commander";

/** --dtype: how the encoder runs (see EncoderOptions.dtype); `fallback` names the default in help. */
export const dtypeOption = (fallback: string) =>
  new Option(
    "--dtype <dtype>",
    `encoder precision: float32, or int8 (1.2-1.7x faster on CPU; default: ${fallback})`,
  ).choices(["float32", "int8"]);

export interface NumberRange {
  /** Least allowed value (inclusive). */
  min?: number;
  /** Greatest allowed value (inclusive). */
  max?: number;
  /** Values must be greater than this (exclusive lower bound: `above: 0` for "positive"). */
  above?: number;
}

// Plain decimal notation only: "1e3", "2.7" for an integer, "5x", "0x10", "" and "Infinity" are
// refused rather than read as 1, 2, 5, 16, 0 or Infinity the way parseInt/Number would.
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function parseNumber(text: string, kind: "integer" | "number", range: NumberRange): number {
  const s = text.trim();
  const ok = kind === "integer" ? INTEGER.test(s) : DECIMAL.test(s);
  const n = Number(s);
  const what = kind === "integer" ? "a whole number" : "a number";
  if (!ok || !Number.isFinite(n) || (kind === "integer" && !Number.isSafeInteger(n)))
    throw new InvalidArgumentError(`give ${what}${describe(range)}.`);
  if (
    (range.min !== undefined && n < range.min) ||
    (range.max !== undefined && n > range.max) ||
    (range.above !== undefined && n <= range.above)
  )
    throw new InvalidArgumentError(`give ${what}${describe(range)}.`);
  return n;
}

function describe(r: NumberRange): string {
  const parts: string[] = [];
  if (r.above !== undefined) parts.push(`greater than ${r.above}`);
  if (r.min !== undefined && r.max !== undefined) parts.push(`from ${r.min} to ${r.max}`);
  else if (r.min !== undefined) parts.push(`${r.min} or more`);
  else if (r.max !== undefined) parts.push(`${r.max} or less`);
  return parts.length ? ` ${parts.join(" and ")}` : "";
}

/**
 * A commander argument parser for a whole-number option: `integer({ min: 1 })`. Anything that is
 * not plainly written as a whole number in range is refused with commander's one-line error
 * ("option '--k <n>' argument '2.7' is invalid. give a whole number 1 or more.").
 */
export const integer =
  (range: NumberRange = {}) =>
  (value: string): number =>
    parseNumber(value, "integer", range);

/** A commander argument parser for a decimal option (`1e-4`, `0.5`), in range. */
export const decimal =
  (range: NumberRange = {}) =>
  (value: string): number =>
    parseNumber(value, "number", range);

/** Shorthands for the ranges most options have. */
export const positiveInt = integer({ min: 1 });
export const nonNegativeInt = integer({ min: 0 });
/** --threads: 1 .. 1024 (ONNX Runtime's own message for 0 or a huge value is not one a user reads). */
export const threadsOption = () =>
  new Option("--threads <n>", "CPU threads (default: all cores)").argParser(integer({ min: 1, max: 1024 }));

/** --agg-mode: how an Aggretriever folder predicts its lexical vector (see encode/aggretriever.ts). */
export const aggModeOption = () =>
  new Option(
    "--agg-mode <mode>",
    "Aggretriever models: lexical prediction over the whole vocabulary (mlm), the text language's token set (target: see xlir agg-vocab) or each token's own id (self, as cheap as plain dense) (default: the model folder's)",
  ).choices(["mlm", "target", "self"]);

/** --lowercase / --no-lowercase: Aggretriever folders lowercase text by default, as the paper does. */
export const lowercaseOptions = () => [
  new Option(
    "--lowercase",
    "Aggretriever models: lowercase all text (default: the model folder's, true when unset)",
  ),
  new Option("--no-lowercase", "Aggretriever models: keep the text's case"),
];

/** --agg-target: whose token set encodes a query in target mode (the mAggretriever paper's cross-lingual rows). */
export const aggTargetOption = () =>
  new Option(
    "--agg-target <whose>",
    "target mode, query in one language against documents in another: the token set of the query's language (query), the documents' (corpus) or English (en) (default: query)",
  ).choices(["query", "corpus", "en"]);

/** --store: where the collections live (src/index/stores.ts). */
export const storeOption = () =>
  new Option(
    "--store <url>",
    "postgres://user@host:port/db: the collections live in PostgreSQL + pgvector (default: $XLIR_STORE, else the embedded store under --home)",
  );
