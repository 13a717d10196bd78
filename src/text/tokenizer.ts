// A Hugging Face tokenizer.json (plus tokenizer_config.json) loaded through @huggingface/tokenizers,
// wrapped so the rest of xlir sees plain ids. The library has no truncation or padding, and its
// encode() can only add all special tokens or none, so we encode the text alone and wrap it in the
// special tokens ourselves: that lets truncation cut the text and keep [CLS]/[SEP] or <s>/</s>.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";

export type TokenizerModelType = "BPE" | "WordPiece" | "Unigram" | "WordLevel";
export type SpecialTokenName = "bos" | "eos" | "unk" | "sep" | "pad" | "cls" | "mask";

export interface TextTokenizer {
  /** The tokenizer.json this came from (or a label for in-memory ones); used in error messages. */
  readonly source: string;
  readonly modelType: TokenizerModelType;
  /** tokenizer_config.json's model_max_length, or null when absent or the "unlimited" sentinel. */
  readonly modelMaxLength: number | null;
  readonly padId: number;
  /** Ids of the special tokens named in tokenizer_config.json (bos_token, eos_token, ...). */
  readonly specialIds: Readonly<Partial<Record<SpecialTokenName, number>>>;
  /** What the post-processor puts before and after one text ([CLS] / [SEP], <s> / </s>, ...). */
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  /** One more than the largest id the tokenizer can give (its vocabulary and added tokens). */
  readonly vocabSize: number;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** The text's ids without special tokens and without truncation. */
  encodeText(text: string): number[];
  /**
   * Ids -> text through tokenizer.json's decoder, special tokens dropped unless skipSpecialTokens is
   * false (what a translation model generated). Absent on tokenizers that have no decoder of their own.
   */
  decode?(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /**
   * "sha256:<hex>" of what decides encodeText's ids (normaliser, pre-tokenizer, model, added
   * tokens): two tokenizers with the same fingerprint give the same ids. Computed when first read.
   */
  readonly fingerprint: string;
}

export interface EncodeOptions {
  /** Longest row, special tokens included; defaults to modelMaxLength (no limit when that is null). */
  maxLength?: number;
  addSpecialTokens?: boolean;
}

export interface EncodedBatch {
  ids: number[][];
  lengths: number[];
  /** Rows that lost tokens to maxLength, so the caller can warn once. */
  truncated: boolean[];
}

export interface PaddedBatch {
  batch: number;
  seqLen: number;
  /** [batch, seqLen] row-major, right-padded with the pad id. */
  ids: Int32Array;
  /** [batch, seqLen] row-major: 1 on real tokens, 0 on padding. */
  attentionMask: Int32Array;
}

const SUPPORTED_MODELS: readonly TokenizerModelType[] = ["BPE", "WordPiece", "Unigram", "WordLevel"];
const SPECIAL_NAMES: readonly SpecialTokenName[] = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"];
// transformers writes int(1e30) as model_max_length when a checkpoint sets no limit.
const UNLIMITED = 1e15;

/** Loads `<dir>/tokenizer.json` (or `file`) and `<dir>/tokenizer_config.json` when present. */
export function loadTokenizer(dir: string, options: { file?: string } = {}): TextTokenizer {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`tokenizer folder ${dir} does not exist: pass a Hugging Face model folder`);
  }
  const file = join(dir, options.file ?? "tokenizer.json");
  if (!existsSync(file)) {
    // xlir reads only the "fast" tokenizer file; vocab.txt or a sentencepiece model alone are not
    // enough, and transformers writes tokenizer.json from them in one call
    throw new Error(
      `no ${options.file ?? "tokenizer.json"} in ${dir}: xlir needs the model's tokenizer.json; write it with transformers: AutoTokenizer.from_pretrained("${dir}").save_pretrained("${dir}")`,
    );
  }
  const configFile = join(dir, "tokenizer_config.json");
  const config = existsSync(configFile) ? readJson(configFile) : {};
  return tokenizerFromJson(readJson(file), config, file);
}

/** Builds a tokenizer from already-parsed tokenizer.json / tokenizer_config.json objects. */
export function tokenizerFromJson(
  json: unknown,
  config: unknown = {},
  source = "tokenizer.json",
): TextTokenizer {
  if (!isObject(json) || !isObject(json.model)) {
    throw new Error(`${source} has no "model" object: it is not a Hugging Face tokenizer.json`);
  }
  if (!isObject(config)) throw new Error(`tokenizer_config.json beside ${source} is not a JSON object`);
  const modelType = detectModelType(json.model, source);
  const cfg = libraryConfig(config, json.model, modelType);

  let lib: HfTokenizer;
  try {
    // The library requires these keys to exist even when they are null.
    lib = new HfTokenizer(
      {
        normalizer: null,
        pre_tokenizer: null,
        post_processor: null,
        decoder: null,
        added_tokens: [],
        ...json,
      },
      cfg,
    );
  } catch (e) {
    throw new Error(`cannot load tokenizer ${source}: ${oneLine(e)}`, { cause: e });
  }

  const tokenToId = (token: string): number | undefined => lib.token_to_id(token);
  const specialIds: Partial<Record<SpecialTokenName, number>> = {};
  for (const name of SPECIAL_NAMES) {
    const token = cfg[`${name}_token`];
    const id = typeof token === "string" ? tokenToId(token) : undefined;
    if (id !== undefined) specialIds[name] = id;
  }
  const { prefix, suffix } = specialWrapping(lib, source);

  let fingerprint: string | undefined;
  return {
    get fingerprint() {
      const { normalizer, pre_tokenizer, model, added_tokens } = json as Record<string, unknown>;
      const what = JSON.stringify([normalizer, pre_tokenizer, model, added_tokens]);
      return (fingerprint ??= `sha256:${createHash("sha256").update(what).digest("hex")}`);
    },
    source,
    modelType,
    modelMaxLength: maxLengthOf(config),
    padId: findPadId(json, specialIds, tokenToId),
    specialIds,
    prefixIds: prefix,
    suffixIds: suffix,
    vocabSize: largestId(json) + 1,
    tokenToId,
    idToToken: (id) => lib.id_to_token(id),
    encodeText: (text) => lib.encode(text, { add_special_tokens: false }).ids,
    decode: (ids, options = {}) =>
      lib.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true }),
  };
}

/**
 * Refuses a tokenizer that can give ids past the model's embedding table (`rows`): ONNX Runtime
 * would fail deep inside with "Gather ... idx=N must be within [-rows,rows-1]" on the first text
 * that uses one. `folder` names the model folder in the message.
 */
export function checkTokenizerFits(tok: TextTokenizer, rows: number, folder: string): void {
  if (tok.vocabSize <= rows) return;
  throw new Error(
    `${folder}: the tokenizer gives ids up to ${tok.vocabSize - 1} but the model's embedding table has ${rows} rows (config.json vocab_size); ${tok.source} belongs to another model: put this model's own tokenizer.json in the folder`,
  );
}

/** Tokenizes each text; truncation drops text tokens from the end and keeps the special tokens. */
export function encodeBatch(
  tok: TextTokenizer,
  texts: readonly string[],
  options: EncodeOptions = {},
): EncodedBatch {
  const addSpecial = options.addSpecialTokens ?? true;
  const maxLength = options.maxLength ?? tok.modelMaxLength ?? Infinity;
  const prefix = addSpecial ? tok.prefixIds : [];
  const suffix = addSpecial ? tok.suffixIds : [];
  const room = maxLength - prefix.length - suffix.length;
  if (maxLength !== Infinity && (!Number.isInteger(maxLength) || room < 0)) {
    throw new Error(
      `maxLength ${maxLength} is invalid for ${tok.source}: give an integer of at least ${prefix.length + suffix.length} (its special tokens)`,
    );
  }
  const out: EncodedBatch = { ids: [], lengths: [], truncated: [] };
  for (const text of texts) {
    if (typeof text !== "string") throw new Error(`encodeBatch got a ${typeof text} instead of a string`);
    const body = tok.encodeText(text);
    const cut = body.length > room;
    const row = [...prefix, ...(cut ? body.slice(0, room) : body), ...suffix];
    out.ids.push(row);
    out.lengths.push(row.length);
    out.truncated.push(cut);
  }
  return out;
}

/** Right-pads rows to the longest one (or to `padTo` when longer) into [batch, seqLen] arrays. */
export function padBatch(
  rows: readonly (readonly number[])[],
  padId: number,
  options: { padTo?: number } = {},
): PaddedBatch {
  const longest = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const seqLen = Math.max(longest, options.padTo ?? 0);
  const ids = new Int32Array(rows.length * seqLen).fill(padId);
  const attentionMask = new Int32Array(rows.length * seqLen);
  rows.forEach((row, b) => {
    ids.set(row, b * seqLen);
    attentionMask.fill(1, b * seqLen, b * seqLen + row.length);
  });
  return { batch: rows.length, seqLen, ids, attentionMask };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${oneLine(e)}): re-download or regenerate it`, { cause: e });
  }
}

function detectModelType(model: Record<string, unknown>, source: string): TokenizerModelType {
  const type = model.type;
  if (typeof type === "string" && (SUPPORTED_MODELS as readonly string[]).includes(type)) {
    return type as TokenizerModelType;
  }
  throw new Error(
    `${source} uses tokenizer model type ${JSON.stringify(type)}, which xlir cannot load: supported are ${SUPPORTED_MODELS.join(", ")}`,
  );
}

// tokenizer_config.json as the library wants it: special tokens as plain strings (transformers
// may write them as {"content": ...} objects) and, for WordLevel, the model's own unk token,
// because the library runs WordLevel through its "Legacy" model, which takes unk from the config.
function libraryConfig(
  config: Record<string, unknown>,
  model: Record<string, unknown>,
  modelType: TokenizerModelType,
): Record<string, unknown> {
  const cfg: Record<string, unknown> = { ...config };
  for (const name of SPECIAL_NAMES) {
    const content = tokenContent(config[`${name}_token`]);
    if (content === undefined) delete cfg[`${name}_token`];
    else cfg[`${name}_token`] = content;
  }
  if (Array.isArray(config.additional_special_tokens)) {
    cfg.additional_special_tokens = config.additional_special_tokens
      .map(tokenContent)
      .filter((t) => t !== undefined);
  }
  if (modelType === "WordLevel" && typeof model.unk_token === "string") cfg.unk_token = model.unk_token;
  return cfg;
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (isObject(value) && typeof value.content === "string") return value.content;
  return undefined;
}

// Runs the post-processor on a one-token probe: whatever lands before/after it is what
// add_special_tokens contributes to a single text.
function specialWrapping(lib: HfTokenizer, source: string): { prefix: number[]; suffix: number[] } {
  if (!lib.post_processor) return { prefix: [], suffix: [] };
  const probe = "\u0000xlir-probe\u0000";
  const tokens = lib.post_processor([probe], null, true).tokens;
  const at = tokens.indexOf(probe);
  if (at < 0 || tokens.lastIndexOf(probe) !== at) {
    throw new Error(
      `${source} has a post-processor template without exactly one $A: xlir cannot wrap texts with it`,
    );
  }
  const toId = (t: string): number => {
    const id = lib.token_to_id(t);
    if (id === undefined)
      throw new Error(`${source}: its post-processor adds "${t}", which is not in the vocabulary`);
    return id;
  };
  return { prefix: tokens.slice(0, at).map(toId), suffix: tokens.slice(at + 1).map(toId) };
}

function maxLengthOf(config: Record<string, unknown>): number | null {
  const n = config.model_max_length;
  return typeof n === "number" && Number.isInteger(n) && n > 0 && n < UNLIMITED ? n : null;
}

// Padding positions are masked out, so any valid id would do; we still prefer the real pad token
// so ids match what transformers produces.
function findPadId(
  json: Record<string, unknown>,
  specialIds: Partial<Record<SpecialTokenName, number>>,
  tokenToId: (t: string) => number | undefined,
): number {
  if (specialIds.pad !== undefined) return specialIds.pad;
  const padding = json.padding;
  if (isObject(padding) && typeof padding.pad_id === "number") return padding.pad_id;
  return tokenToId("<pad>") ?? tokenToId("[PAD]") ?? 0;
}

// The model's vocabulary is an object of token -> id (WordPiece, BPE, WordLevel) or a list of
// [piece, score] whose position is the id (Unigram); added tokens carry their own ids.
function largestId(json: Record<string, unknown>): number {
  let max = -1;
  const vocab = (json.model as Record<string, unknown>).vocab;
  if (Array.isArray(vocab)) max = vocab.length - 1;
  else if (isObject(vocab))
    for (const id of Object.values(vocab)) if (typeof id === "number" && id > max) max = id;
  if (Array.isArray(json.added_tokens))
    for (const t of json.added_tokens) if (isObject(t) && typeof t.id === "number" && t.id > max) max = t.id;
  return max;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").trim();
}
