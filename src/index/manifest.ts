// collection.json: what a collection is built with, written once when it is created (and again when
// an ANN index is added). Every later addition or query is checked against it, so vectors of two
// encoders, or chunks of two chunk sizes, never mix in one collection.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { EncoderDType } from "../encode/encoder.ts";
import { AGG_MODES, type AggMode } from "../models/aggretriever.ts";
import { type AnalyzerConfig, checkAnalyzerConfig } from "../text/analyzer.ts";
import { type Bm25Params, bm25Params } from "./bm25-similarity.ts";
import { type DocScore, formatDocScore, parseDocScore } from "./doc-score.ts";
import { writeFolderFile } from "./folder-files.ts";
import type { AnnType } from "./store.ts";

export const MANIFEST_FILE = "collection.json";
export const COLLECTION_FORMAT_VERSION = 1;

export type Similarity = "cosine" | "dot";

/** The neural encoder of a dense collection, as recorded and as compared. */
export interface DenseEncoderSpec {
  kind: "dense";
  /** Hub id, or the absolute path of a model folder. */
  model: string;
  /** Hub revision asked for (null: the default branch). */
  revision: string | null;
  dims: number;
  normalize: boolean;
  /** Longest encoder input in tokens, special tokens included. */
  maxLength: number;
  /** Score of a query and a chunk; cosine vectors are stored unit-length and scored by dot product. */
  similarity: Similarity;
  /**
   * How the encoder ran when indexing (absent in collections made before int8 existed: float32).
   * Searches embed queries the same way unless told otherwise; the dtype is not checked when
   * extending or searching, since int8 vectors agree with float32 ones to cosine ~0.999.
   */
  dtype?: EncoderDType;
  /**
   * The query/passage prefixes the documents were embedded with; every later search and addition
   * uses them, whatever the model's folder is named by then. Absent in older collections: the
   * model's own conventions decide, as they did.
   */
  prompts?: { query: string; passage: string };
  /**
   * weights/fingerprint.ts of the model when the collection was created: a model at the same path
   * with other weights is refused. Absent in older collections: not checked.
   */
  fingerprint?: string;
  /**
   * Aggretriever models: how the documents' lexical vectors were predicted and whether their text
   * was lowercased; queries must be encoded the same way. Absent for other models.
   */
  agg?: AggSettings;
}

/** The Aggretriever settings a collection records (encode/aggretriever.ts AggOptions, as decided). */
export interface AggSettings {
  mode: AggMode;
  lowercase: boolean;
}

/**
 * A late-interaction (ColBERT / ColBERT-XM) model: every chunk keeps one unit vector per token and
 * scores by MaxSim (encode/colbert.ts); the token vectors live in the store's blobs
 * (token-vectors.ts), not in the chunk rows.
 */
export interface MultiVectorEncoderSpec {
  kind: "multi-vector";
  model: string;
  revision: string | null;
  /** Width of each token vector. */
  dims: number;
  /** doc_maxlen: longest document row in tokens, special tokens and the [D] marker included. */
  maxLength: number;
  fingerprint?: string;
}

export type EncoderSpec = DenseEncoderSpec | MultiVectorEncoderSpec | { kind: "bm25" };

export interface AnnSpec {
  /** Dense search uses the ANN index (when there is one) from this many chunks up. */
  threshold: number;
  /** The vector index built on the chunks (LanceDB's ivf_pq / hnsw_sq, pgvector's hnsw), or null. */
  index: { type: AnnType; rows: number; built: string } | null;
}

export interface Manifest {
  format: "xlir-collection";
  version: number;
  name: string;
  created: string;
  encoder: EncoderSpec;
  /** Chunk windows in encoder tokens (dense collections); null: one chunk per document. */
  chunking: { tokens: number; overlap: number } | null;
  docScore: DocScore;
  analyzer: AnalyzerConfig;
  bm25: Bm25Params;
  ann: AnnSpec;
}

export function manifestPath(dir: string): string {
  return join(dir, MANIFEST_FILE);
}

/** Writes collection.json atomically (temporary file, then rename). */
export function writeManifest(dir: string, m: Manifest): void {
  writeFolderFile(dir, MANIFEST_FILE, manifestBytes(m));
}

/** collection.json's bytes (what a store keeps under MANIFEST_FILE). */
export function manifestBytes(m: Manifest): Buffer {
  return Buffer.from(JSON.stringify(toJson(m), null, 2) + "\n");
}

export function readManifest(dir: string): Manifest {
  const file = manifestPath(dir);
  if (!existsSync(file)) throw new Error(`${dir} is not an xlir collection (no ${MANIFEST_FILE})`);
  return parseManifest(readFileSync(file, "utf8"), file);
}

/** A manifest from collection.json's text, checked; `file` names it in errors. */
export function parseManifest(text: string, file: string): Manifest {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${file} is not valid JSON (${(e as Error).message}): restore it or rebuild the collection`,
      {
        cause: e,
      },
    );
  }
  const bad = (what: string) => new Error(`${file}: ${what}; restore the file or rebuild the collection`);
  if (raw?.format !== "xlir-collection")
    throw bad(`format is ${JSON.stringify(raw?.format)}, not "xlir-collection"`);
  if (raw.version !== COLLECTION_FORMAT_VERSION) {
    throw bad(
      `collection format version ${raw.version}; this xlir reads version ${COLLECTION_FORMAT_VERSION}`,
    );
  }
  const enc = raw.encoder as EncoderSpec | undefined;
  if (enc?.kind !== "bm25" && enc?.kind !== "dense" && enc?.kind !== "multi-vector")
    throw bad(`unknown encoder ${JSON.stringify(enc)}`);
  if (enc.kind !== "bm25" && !(Number.isInteger(enc.dims) && enc.dims > 0 && typeof enc.model === "string")) {
    throw bad(`the ${enc.kind} encoder needs a model and positive integer dims`);
  }
  if (enc.kind === "dense") {
    const p = enc.prompts;
    if (p !== undefined && !(typeof p?.query === "string" && typeof p?.passage === "string"))
      throw bad("the encoder's prompts need string query and passage prefixes");
    if (enc.fingerprint !== undefined && typeof enc.fingerprint !== "string")
      throw bad("the encoder's fingerprint is not a string");
    const a = enc.agg;
    if (a !== undefined && !(AGG_MODES.includes(a?.mode) && typeof a?.lowercase === "boolean"))
      throw bad(`the encoder's agg settings need a mode (${AGG_MODES.join(", ")}) and a boolean lowercase`);
  }
  const ann = raw.ann as AnnSpec | undefined;
  if (!ann || !Number.isInteger(ann.threshold)) throw bad("no ANN settings");
  return {
    format: "xlir-collection",
    version: COLLECTION_FORMAT_VERSION,
    name: String(raw.name),
    created: String(raw.created),
    encoder: enc,
    chunking: (raw.chunking as Manifest["chunking"]) ?? null,
    docScore: parseDocScore(String(raw.docScore), file),
    analyzer: checkAnalyzerConfig(raw.analyzer, file),
    bm25: bm25Params(raw.bm25 as Partial<Bm25Params>, file),
    ann,
  };
}

function toJson(m: Manifest): Record<string, unknown> {
  return { ...m, docScore: formatDocScore(m.docScore) };
}

/** One line naming what the encoder spec is. */
export function describeEncoder(e: EncoderSpec): string {
  if (e.kind === "bm25") return "bm25 (lexical only)";
  const rev = e.revision ? `@${e.revision}` : "";
  if (e.kind === "multi-vector")
    return `${e.model}${rev} (multi-vector, ${e.dims} dims per token, MaxSim, max ${e.maxLength} tokens)`;
  const agg = e.agg ? `, --agg-mode ${e.agg.mode}${e.agg.lowercase ? ", lowercased" : ""}` : "";
  return `${e.model}${rev} (${e.dims} dims, ${e.similarity}, max ${e.maxLength} tokens${agg})`;
}

export interface EncoderCheckOptions {
  /** Accept a model whose weights changed since the collection was created (--allow-model-change). */
  allowModelChange?: boolean;
}

/**
 * Throws when `given` is not the encoder the collection was built with; `what` says what was being
 * done ("index into", "search") for the message. Prefixes and the weights' fingerprint are
 * compared where both sides record them (older collections record neither).
 */
export function checkSameEncoder(
  name: string,
  built: EncoderSpec,
  given: EncoderSpec,
  what: string,
  opts: EncoderCheckOptions = {},
): void {
  const same =
    built.kind === "bm25" || given.kind === "bm25"
      ? built.kind === given.kind
      : built.kind === given.kind &&
        built.model === given.model &&
        (built.revision ?? null) === (given.revision ?? null) &&
        built.dims === given.dims &&
        built.maxLength === given.maxLength &&
        (built.kind !== "dense" || built.normalize === (given as DenseEncoderSpec).normalize);
  if (!same) {
    throw new Error(
      `cannot ${what} collection "${name}" with ${describeEncoder(given)}: it was built with ` +
        `${describeEncoder(built)}; use that model (or leave --model out), or create a new collection`,
    );
  }
  if (built.kind === "bm25" || built.kind !== given.kind) return;
  checkSameWeights(name, built, given, what, opts);
  if (built.kind !== "dense" || given.kind !== "dense") return;
  const [a, b] = [built.prompts, given.prompts];
  if (a && b && (a.query !== b.query || a.passage !== b.passage))
    throw new Error(
      `cannot ${what} collection "${name}" with prefixes ${prefixes(b)}: it was built with ${prefixes(a)}; ` +
        `leave --query-prefix/--passage-prefix out (or give those), or create a new collection`,
    );
  if (built.agg && given.agg) checkSameAgg(name, built.agg, given.agg, what);
}

/** A model at the same path whose weights changed since the collection was built is refused. */
function checkSameWeights(
  name: string,
  built: { model: string; fingerprint?: string },
  given: { fingerprint?: string },
  what: string,
  opts: EncoderCheckOptions,
): void {
  if (
    built.fingerprint &&
    given.fingerprint &&
    built.fingerprint !== given.fingerprint &&
    !opts.allowModelChange
  )
    throw new Error(
      `the model at ${built.model} has changed since collection "${name}" was built (its config.json or weights differ): ` +
        `restore that model, index into a new collection, or pass --allow-model-change to ${what} it anyway`,
    );
}

const prefixes = (p: { query: string; passage: string }) =>
  `query ${JSON.stringify(p.query)} / passage ${JSON.stringify(p.passage)}`;

/**
 * Throws when Aggretriever settings asked for (`given`: only those named) differ from the ones a
 * collection was built with: its vectors would not be comparable with the new ones.
 */
export function checkSameAgg(
  name: string,
  built: AggSettings,
  given: Partial<AggSettings>,
  what: string,
): void {
  if (given.mode !== undefined && given.mode !== built.mode)
    throw new Error(
      `cannot ${what} collection "${name}" with --agg-mode ${given.mode}: its documents were encoded with ` +
        `--agg-mode ${built.mode}; leave --agg-mode out (or give ${built.mode}), or create a new collection`,
    );
  if (given.lowercase !== undefined && given.lowercase !== built.lowercase)
    throw new Error(
      `cannot ${what} collection "${name}" with ${caseFlag(given.lowercase)}: its documents were encoded ` +
        `with ${caseFlag(built.lowercase)}; leave it out, or create a new collection`,
    );
}

const caseFlag = (lowercase: boolean) => (lowercase ? "--lowercase" : "--no-lowercase");
