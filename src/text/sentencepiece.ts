// SentencePiece model files (the ModelProto protobuf behind *.model and opus-mt's source.spm /
// target.spm) read without the sentencepiece library, and run through @huggingface/tokenizers by
// building the tokenizer.json that transformers' slow -> fast converter (SpmConverter) would write.
//
// Two gaps in the JS library are filled here rather than approximated:
// - its Precompiled normaliser ignores the charsmap and runs NFKC plus nmt's control-character and
//   space rules, which differs from the real nmt_nfkc map on some characters (zero-width joiner,
//   letters newer than the map) and from any other rule set (e.g. case folding); so
//   sentencePieceTokenizer applies the model's own charsmap itself and gives the library the rest
//   of the pipeline. sentencePieceToTokenizerJson still writes Precompiled with the real map, which
//   is right for the Rust library;
// - its Unigram model has no byte fallback, so the <unk> pieces it gives are replaced with the
//   <0xXX> byte pieces, as sentencepiece would.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { tokenizerFromJson, type TextTokenizer } from "./tokenizer.ts";

export type PieceType = "NORMAL" | "UNKNOWN" | "CONTROL" | "USER_DEFINED" | "UNUSED" | "BYTE";
export type SentencePieceModelType = "UNIGRAM" | "BPE" | "WORD" | "CHAR";

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface TrainerSpec {
  modelType: SentencePieceModelType;
  vocabSize: number;
  unkId: number;
  bosId: number;
  eosId: number;
  /** -1 when the model has no pad piece (sentencepiece's default). */
  padId: number;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
  /** What decoding writes for the unknown piece (" ⁇ " by default). */
  unkSurface: string;
  byteFallback: boolean;
  splitByWhitespace: boolean;
  treatWhitespaceAsSuffix: boolean;
}

export interface NormalizerSpec {
  /** The rule set the model was trained with: nmt_nfkc, nfkc, nmt_nfkc_cf, identity, ... */
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
}

export const SPIECE_UNDERLINE = "\u2581";

const PIECE_TYPES: Record<number, PieceType> = {
  1: "NORMAL",
  2: "UNKNOWN",
  3: "CONTROL",
  4: "USER_DEFINED",
  5: "UNUSED",
  6: "BYTE",
};
const MODEL_TYPES: Record<number, SentencePieceModelType> = { 1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR" };

// ---------------------------------------------------------------------------------------------
// Protobuf wire format: just enough to walk ModelProto. Unknown fields are skipped, so models
// written by newer sentencepiece versions (more TrainerSpec fields) still load.

class CorruptModel extends Error {}

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  // Returns the low 32 bits (for int32/enum fields, where negatives take 10 bytes) and the value
  // as a float (for lengths and unsigned counts).
  varint(): { lo: number; value: number } {
    let lo = 0;
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new CorruptModel("a number runs past the end");
      const b = this.buf[this.pos++];
      if (i < 5) lo = (lo | ((b & 0x7f) << (7 * i))) >>> 0;
      value += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return { lo, value };
    }
    throw new CorruptModel("a number is longer than 10 bytes");
  }

  tag(): { field: number; wire: number } {
    const { value } = this.varint();
    return { field: Math.floor(value / 8), wire: value % 8 };
  }

  bytes(): Uint8Array {
    const n = this.varint().value;
    if (n > this.end - this.pos) throw new CorruptModel("a field runs past the end");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  sub(): Reader {
    const b = this.bytes();
    return new Reader(
      this.buf,
      b.byteOffset - this.buf.byteOffset,
      b.byteOffset - this.buf.byteOffset + b.length,
    );
  }

  float(): number {
    if (this.end - this.pos < 4) throw new CorruptModel("a float runs past the end");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.advance(8);
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.advance(4);
    else throw new CorruptModel(`wire type ${wire} is not used by SentencePiece models`);
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) throw new CorruptModel("a field runs past the end");
    this.pos += n;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const text = (b: Uint8Array): string => {
  try {
    return utf8.decode(b);
  } catch {
    throw new CorruptModel("a string is not UTF-8");
  }
};

function readPiece(r: Reader): SentencePiece {
  const p: SentencePiece = { piece: "", score: 0, type: "NORMAL" };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === 2) p.piece = text(r.bytes());
    else if (field === 2 && wire === 5) p.score = r.float();
    else if (field === 3 && wire === 0) {
      const t = PIECE_TYPES[r.varint().lo | 0];
      if (!t) throw new CorruptModel(`piece "${p.piece}" has an unknown type`);
      p.type = t;
    } else r.skip(wire);
  }
  return p;
}

function readTrainerSpec(r: Reader | null): TrainerSpec {
  // proto2 defaults of sentencepiece_model.proto, for fields the file leaves out
  const s: TrainerSpec = {
    modelType: "UNIGRAM",
    vocabSize: 8000,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkPiece: "<unk>",
    bosPiece: "<s>",
    eosPiece: "</s>",
    padPiece: "<pad>",
    unkSurface: " \u2047 ",
    byteFallback: false,
    splitByWhitespace: true,
    treatWhitespaceAsSuffix: false,
  };
  while (r && !r.done) {
    const { field, wire } = r.tag();
    const int = (): number => r.varint().lo | 0;
    if (wire === 0 && field === 3) {
      const t = MODEL_TYPES[int()];
      if (!t) throw new CorruptModel("trainer_spec has an unknown model_type");
      s.modelType = t;
    } else if (wire === 0 && field === 4) s.vocabSize = int();
    else if (wire === 0 && field === 22) s.splitByWhitespace = int() !== 0;
    else if (wire === 0 && field === 24) s.treatWhitespaceAsSuffix = int() !== 0;
    else if (wire === 0 && field === 35) s.byteFallback = int() !== 0;
    else if (wire === 0 && field === 40) s.unkId = int();
    else if (wire === 0 && field === 41) s.bosId = int();
    else if (wire === 0 && field === 42) s.eosId = int();
    else if (wire === 0 && field === 43) s.padId = int();
    else if (wire === 2 && field === 44) s.unkSurface = text(r.bytes());
    else if (wire === 2 && field === 45) s.unkPiece = text(r.bytes());
    else if (wire === 2 && field === 46) s.bosPiece = text(r.bytes());
    else if (wire === 2 && field === 47) s.eosPiece = text(r.bytes());
    else if (wire === 2 && field === 48) s.padPiece = text(r.bytes());
    else r.skip(wire);
  }
  return s;
}

function readNormalizerSpec(r: Reader | null): NormalizerSpec {
  const s: NormalizerSpec = {
    name: "",
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  while (r && !r.done) {
    const { field, wire } = r.tag();
    if (wire === 2 && field === 1) s.name = text(r.bytes());
    else if (wire === 2 && field === 2) s.precompiledCharsmap = r.bytes().slice();
    else if (wire === 0 && field === 3) s.addDummyPrefix = r.varint().value !== 0;
    else if (wire === 0 && field === 4) s.removeExtraWhitespaces = r.varint().value !== 0;
    else if (wire === 0 && field === 5) s.escapeWhitespaces = r.varint().value !== 0;
    else r.skip(wire);
  }
  return s;
}

/** Parses a SentencePiece ModelProto; `source` names the file in error messages. */
export function parseSentencePieceModel(
  bytes: Uint8Array,
  source = "SentencePiece model",
): SentencePieceModel {
  const pieces: SentencePiece[] = [];
  let trainer: Reader | null = null;
  let normalizer: Reader | null = null;
  try {
    const r = new Reader(bytes);
    while (!r.done) {
      const { field, wire } = r.tag();
      if (field === 1 && wire === 2) pieces.push(readPiece(r.sub()));
      else if (field === 2 && wire === 2) trainer = r.sub();
      else if (field === 3 && wire === 2) normalizer = r.sub();
      else r.skip(wire);
    }
    const model = {
      pieces,
      trainerSpec: readTrainerSpec(trainer),
      normalizerSpec: readNormalizerSpec(normalizer),
    };
    checkModel(model);
    return model;
  } catch (e) {
    if (!(e instanceof CorruptModel)) throw e;
    throw new Error(
      `${source} is not a valid SentencePiece model (${e.message}): re-download it from the model's repository`,
      { cause: e },
    );
  }
}

function checkModel(m: SentencePieceModel): void {
  if (m.pieces.length === 0) throw new CorruptModel("it has no pieces");
  const unk = m.pieces[m.trainerSpec.unkId];
  if (!unk || unk.type !== "UNKNOWN") {
    throw new CorruptModel(`trainer_spec.unk_id ${m.trainerSpec.unkId} is not an unknown-type piece`);
  }
}

/** Reads a SentencePiece model file (*.model, *.spm). */
export function readSentencePieceModel(file: string): SentencePieceModel {
  if (!existsSync(file)) {
    throw new Error(`${file} does not exist: download the model's SentencePiece file into that folder`);
  }
  return parseSentencePieceModel(readFileSync(file), file);
}

// ---------------------------------------------------------------------------------------------
// tokenizer.json

/**
 * The tokenizer.json (as a plain object) that transformers' SpmConverter writes for a unigram
 * model: the pieces and scores in spm order (so ids are spm ids), control and user-defined pieces
 * as added tokens, sentencepiece's whitespace rules as normaliser steps and Metaspace.
 */
export function sentencePieceToTokenizerJson(
  model: SentencePieceModel,
  source = "SentencePiece model",
): object {
  const { trainerSpec: t, normalizerSpec: n } = model;
  if (t.modelType !== "UNIGRAM") {
    throw new Error(
      `${source} is a ${t.modelType} SentencePiece model; xlir runs only unigram ones: use the model's tokenizer.json instead (write it with transformers' save_pretrained)`,
    );
  }
  const normalizers: object[] = [];
  if (n.precompiledCharsmap.length > 0) {
    normalizers.push({
      type: "Precompiled",
      precompiled_charsmap: Buffer.from(n.precompiledCharsmap).toString("base64"),
    });
  }
  if (n.removeExtraWhitespaces) {
    // Stripping the right and collapsing runs to one "▁" is, after Metaspace, exactly
    // sentencepiece's remove_extra_whitespaces; Metaspace does not prepend a second "▁" to a text
    // that already starts with one, which covers the leading spaces.
    normalizers.push({ type: "Strip", strip_left: false, strip_right: true });
    normalizers.push({ type: "Replace", pattern: { Regex: " {2,}" }, content: SPIECE_UNDERLINE });
  }
  const metaspace = {
    type: "Metaspace",
    replacement: SPIECE_UNDERLINE,
    prepend_scheme: n.addDummyPrefix ? "always" : "never",
    split: true,
  };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: model.pieces.flatMap((p, id) =>
      p.type === "CONTROL" || p.type === "USER_DEFINED"
        ? [
            {
              id,
              content: p.piece,
              single_word: false,
              lstrip: false,
              rstrip: false,
              normalized: false,
              special: p.type === "CONTROL",
            },
          ]
        : [],
    ),
    normalizer: normalizers.length ? { type: "Sequence", normalizers } : null,
    pre_tokenizer: metaspace,
    post_processor: null,
    decoder: metaspace,
    model: {
      type: "Unigram",
      unk_id: t.unkId,
      vocab: model.pieces.map((p) => [p.piece, p.score]),
      byte_fallback: t.byteFallback,
    },
  };
}

/** A sentencepiece model as a TextTokenizer: ids are the model's own piece ids. */
export interface SentencePieceTokenizer extends TextTokenizer {
  readonly model: SentencePieceModel;
  /** The text's pieces (the surface of unknown ones, as sentencepiece's encode to str gives). */
  tokenize(text: string): string[];
  /** sentencepiece's decode of ids (control pieces vanish, byte pieces become UTF-8). */
  decode(ids: readonly number[]): string;
}

/**
 * Builds a tokenizer from a parsed model. `config` is an optional tokenizer_config.json object
 * (special token names, model_max_length); by default the spec's unk/bos/eos/pad pieces.
 */
export function sentencePieceTokenizer(
  model: SentencePieceModel,
  options: { config?: Record<string, unknown>; source?: string } = {},
): SentencePieceTokenizer {
  const source = options.source ?? "SentencePiece model";
  const json = sentencePieceToTokenizerJson(model, source);
  const t = model.trainerSpec;
  const defaults: Record<string, unknown> = {};
  for (const [name, id] of [
    ["unk", t.unkId],
    ["bos", t.bosId],
    ["eos", t.eosId],
    ["pad", t.padId],
  ] as const) {
    if (id >= 0 && id < model.pieces.length) defaults[`${name}_token`] = model.pieces[id].piece;
  }
  const charsmap = model.normalizerSpec.precompiledCharsmap;
  const normalize = charsmap.length ? precompiledNormalizer(charsmap, source) : (s: string) => s;
  const libJson = withoutPrecompiled(json);
  const base = tokenizerFromJson(libJson, { ...defaults, ...options.config }, source);
  // A second library instance for tokens(): TextTokenizer only exposes ids.
  const lib = new HfTokenizer(libJson, {});
  const byteIds = byteFallbackIds(model);
  const unkPiece = model.pieces[t.unkId].piece;
  let fingerprint: string | undefined;

  const tokenize = (s: string): string[] => lib.encode(normalize(s), { add_special_tokens: false }).tokens;
  const encodeText = (s: string): number[] => {
    if (!byteIds) return base.encodeText(normalize(s));
    const { ids, tokens } = lib.encode(normalize(s), { add_special_tokens: false });
    return ids.flatMap((id: number, i: number): number[] =>
      id === t.unkId && tokens[i] !== unkPiece
        ? [...new TextEncoder().encode(tokens[i])].map((b) => byteIds[b])
        : [id],
    );
  };
  return {
    get fingerprint() {
      // the library's json lacks the charsmap, which decides ids as well
      return (fingerprint ??= charsmap.length
        ? `sha256:${createHash("sha256").update(base.fingerprint).update(charsmap).digest("hex")}`
        : base.fingerprint);
    },
    source: base.source,
    modelType: base.modelType,
    modelMaxLength: base.modelMaxLength,
    padId: base.padId,
    specialIds: base.specialIds,
    prefixIds: base.prefixIds,
    suffixIds: base.suffixIds,
    vocabSize: base.vocabSize,
    tokenToId: base.tokenToId,
    idToToken: base.idToToken,
    model,
    encodeText,
    tokenize,
    decode: (ids) =>
      decodePieces(
        model,
        ids.map((id) => model.pieces[id]?.piece ?? unkPiece),
      ),
  };
}

function withoutPrecompiled(json: object): object {
  const j = json as { normalizer: { normalizers: { type: string }[] } | null };
  if (!j.normalizer) return json;
  const rest = j.normalizer.normalizers.filter((n) => n.type !== "Precompiled");
  return { ...json, normalizer: rest.length ? { type: "Sequence", normalizers: rest } : null };
}

/**
 * sentencepiece's normaliser for a precompiled charsmap: a uint32 byte size, a darts-clone double
 * array over UTF-8 keys, then the NUL-terminated replacements the trie's values point at. At each
 * position the longest key wins; text no key matches is copied one character at a time.
 */
export function precompiledNormalizer(
  charsmap: Uint8Array,
  source = "SentencePiece model",
): (s: string) => string {
  const bad = (why: string) =>
    new Error(
      `${source} has a corrupt precompiled_charsmap (${why}): re-download it from the model's repository`,
    );
  if (charsmap.length < 4) throw bad("shorter than its header");
  const view = new DataView(charsmap.buffer, charsmap.byteOffset, charsmap.byteLength);
  const trieBytes = view.getUint32(0, true);
  if (trieBytes % 4 !== 0 || trieBytes === 0 || 4 + trieBytes > charsmap.length) throw bad("bad trie size");
  const units = new Uint32Array(trieBytes / 4);
  for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
  const strings = charsmap.subarray(4 + trieBytes);
  const offset = (u: number): number => (u >>> 10) << ((u & (1 << 9)) >>> 6);
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const cache = new Map<number, string>();
  const replacement = (at: number): string => {
    let s = cache.get(at);
    if (s === undefined) {
      const end = strings.indexOf(0, at);
      if (at >= strings.length || end < 0) throw bad("a replacement runs past the end");
      s = decoder.decode(strings.subarray(at, end));
      cache.set(at, s);
    }
    return s;
  };
  return (text: string): string => {
    const b = encoder.encode(text);
    let out = "";
    let copyFrom = 0;
    let i = 0;
    while (i < b.length) {
      let node = offset(units[0]);
      let len = 0;
      let value = -1;
      for (let j = i; j < b.length; j++) {
        node ^= b[j];
        const u = units[node];
        if (u === undefined || (u & 0x800000ff) >>> 0 !== b[j]) break;
        node ^= offset(u);
        if ((u >>> 8) & 1) {
          len = j - i + 1;
          value = units[node] & 0x7fffffff;
        }
      }
      if (value < 0) {
        const lead = b[i];
        i += lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
        continue;
      }
      out += decoder.decode(b.subarray(copyFrom, i)) + replacement(value);
      i += len;
      copyFrom = i;
    }
    return out + decoder.decode(b.subarray(copyFrom));
  };
}

// The 256 <0xXX> piece ids when the model falls back to bytes and has all of them.
function byteFallbackIds(model: SentencePieceModel): number[] | null {
  if (!model.trainerSpec.byteFallback) return null;
  const ids = new Array<number>(256);
  model.pieces.forEach((p, id) => {
    const m = p.type === "BYTE" ? /^<0x([0-9A-Fa-f]{2})>$/.exec(p.piece) : null;
    if (m) ids[parseInt(m[1], 16)] = id;
  });
  for (let b = 0; b < 256; b++) if (ids[b] === undefined) return null;
  return ids;
}

/** Reads `file` (a SentencePiece model) into a tokenizer; see sentencePieceTokenizer. */
export function loadSentencePieceTokenizer(
  file: string,
  options: { config?: Record<string, unknown> } = {},
): SentencePieceTokenizer {
  return sentencePieceTokenizer(readSentencePieceModel(file), { ...options, source: file });
}

/**
 * sentencepiece's DecodePieces: control pieces give nothing, the unknown piece gives unk_surface,
 * runs of <0xXX> byte pieces are decoded as UTF-8, pieces the model lacks are kept as they are,
 * "▁" becomes a space and the dummy prefix of the first piece is dropped.
 */
export function decodePieces(model: SentencePieceModel, pieces: readonly string[]): string {
  const index = pieceIndex(model);
  const { addDummyPrefix, escapeWhitespaces } = model.normalizerSpec;
  let out = "";
  let bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length) out += new TextDecoder().decode(new Uint8Array(bytes));
    bytes = [];
  };
  for (const piece of pieces) {
    const p = model.pieces[index.get(piece) ?? -1];
    if (p?.type === "BYTE") {
      bytes.push(parseInt(piece.slice(3, 5), 16));
      continue;
    }
    flush();
    if (p?.type === "CONTROL") continue;
    let surface = p?.type === "UNKNOWN" ? model.trainerSpec.unkSurface : piece;
    if (escapeWhitespaces) surface = surface.replaceAll(SPIECE_UNDERLINE, " ");
    out += surface;
  }
  flush();
  return addDummyPrefix && escapeWhitespaces && out.startsWith(" ") ? out.slice(1) : out;
}

const indexes = new WeakMap<SentencePieceModel, Map<string, number>>();
function pieceIndex(model: SentencePieceModel): Map<string, number> {
  let index = indexes.get(model);
  if (!index) {
    index = new Map();
    model.pieces.forEach((p, id) => {
      if (!index!.has(p.piece)) index!.set(p.piece, id);
    });
    indexes.set(model, index);
  }
  return index;
}

// ---------------------------------------------------------------------------------------------
// Marian (opus-mt)

/**
 * An opus-mt tokenizer: source.spm cuts the text into pieces, vocab.json (shared by both sides, or
 * target_vocab.json with separate_vocabs) gives their ids; pieces it lacks become <unk>, as in
 * transformers' MarianTokenizer. As a TextTokenizer it appends </s> and nothing before.
 */
export interface MarianTokenizer extends TextTokenizer {
  readonly sourceSpm: SentencePieceModel;
  readonly targetSpm: SentencePieceModel;
  readonly eosId: number;
  readonly unkId: number;
  /** The source pieces of a text, a leading >>lang<< code kept whole. */
  tokenize(text: string): string[];
  /** Text -> ids ending in </s>. */
  encode(text: string): number[];
  /** Target ids -> text through target.spm; special tokens dropped unless skipSpecialTokens is false. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/** Loads source.spm, target.spm, vocab.json (and tokenizer_config.json) from an opus-mt folder. */
export function loadMarianTokenizer(dir: string): MarianTokenizer {
  const need = (name: string): string => {
    const file = join(dir, name);
    if (!existsSync(file)) {
      throw new Error(
        `no ${name} in ${dir}: an opus-mt tokenizer needs source.spm, target.spm and vocab.json; download them from the model's repository`,
      );
    }
    return file;
  };
  const configFile = join(dir, "tokenizer_config.json");
  const config = existsSync(configFile) ? readJsonObject(configFile) : {};
  const sourceSpm = readSentencePieceModel(need("source.spm"));
  const targetSpm = readSentencePieceModel(need("target.spm"));
  const vocabFile = need("vocab.json");
  const vocab = readVocab(vocabFile);
  const separate = config.separate_vocabs === true;
  const targetVocabFile = separate ? need("target_vocab.json") : vocabFile;
  const targetVocab = separate ? readVocab(targetVocabFile) : vocab;

  const name = (key: string, fallback: string): string => {
    const v = config[key];
    if (typeof v === "string") return v;
    if (typeof v === "object" && v !== null && typeof (v as { content?: unknown }).content === "string")
      return (v as { content: string }).content;
    return fallback;
  };
  const unk = name("unk_token", "<unk>");
  const eos = name("eos_token", "</s>");
  const pad = name("pad_token", "<pad>");
  const idOf = (token: string, file: string, map: Map<string, number>): number => {
    const id = map.get(token);
    if (id === undefined) {
      throw new Error(
        `${file} has no "${token}" entry: it does not belong to this opus-mt model; re-download it`,
      );
    }
    return id;
  };
  const unkId = idOf(unk, vocabFile, vocab);
  const eosId = idOf(eos, vocabFile, vocab);
  const padId = idOf(pad, vocabFile, vocab);

  const additional = Array.isArray(config.additional_special_tokens)
    ? config.additional_special_tokens.filter((t): t is string => typeof t === "string")
    : [];
  const specialTokens = new Set([unk, eos, pad, ...additional]);
  const targetById = new Map<number, string>();
  for (const [piece, id] of targetVocab) if (!targetById.has(id)) targetById.set(id, piece);
  const sourceById = new Map<number, string>();
  for (const [piece, id] of vocab) if (!sourceById.has(id)) sourceById.set(id, piece);

  const spm = sentencePieceTokenizer(sourceSpm, { source: join(dir, "source.spm") });
  const tokenize = (text: string): string[] => {
    // opus-mt models with several target languages take ">>fra<<"-style codes at the start
    let code: string[] = [];
    const end = text.startsWith(">>") ? text.indexOf("<<") : -1;
    if (end >= 0) {
      code = [text.slice(0, end + 2)];
      text = text.slice(end + 2);
    }
    return [...code, ...spm.tokenize(text)];
  };
  const encodeText = (text: string): number[] => tokenize(text).map((p) => vocab.get(p) ?? unkId);
  const decode = (ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string => {
    const skip = options.skipSpecialTokens ?? true;
    let out = "";
    let run: string[] = [];
    for (const id of ids) {
      const token = targetById.get(id) ?? unk;
      if (!specialTokens.has(token)) {
        run.push(token);
        continue;
      }
      if (skip) continue;
      out += decodePieces(targetSpm, run) + token + " ";
      run = [];
    }
    out += decodePieces(targetSpm, run);
    return out.replaceAll(SPIECE_UNDERLINE, " ").trim();
  };

  const specialIds: TextTokenizer["specialIds"] = { unk: unkId, eos: eosId, pad: padId };
  let largest = -1;
  for (const id of vocab.values()) largest = Math.max(largest, id);
  const maxLength = config.model_max_length;
  let fingerprint: string | undefined;
  return {
    source: join(dir, "source.spm"),
    modelType: "Unigram",
    modelMaxLength:
      typeof maxLength === "number" && Number.isInteger(maxLength) && maxLength > 0 && maxLength < 1e15
        ? maxLength
        : 512,
    padId,
    specialIds,
    prefixIds: [],
    suffixIds: [eosId],
    vocabSize: largest + 1,
    get fingerprint() {
      // the pieces depend on source.spm, their ids on vocab.json
      return (fingerprint ??= `${spm.fingerprint}+${hashVocab(vocab)}`);
    },
    tokenToId: (token) => vocab.get(token),
    idToToken: (id) => sourceById.get(id),
    encodeText,
    sourceSpm,
    targetSpm,
    eosId,
    unkId,
    tokenize,
    encode: (text) => [...encodeText(text), eosId],
    decode,
  };
}

function hashVocab(vocab: Map<string, number>): string {
  return createHash("sha256")
    .update(JSON.stringify([...vocab].sort((a, b) => a[1] - b[1])))
    .digest("hex")
    .slice(0, 16);
}

function readJsonObject(file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file} is not valid JSON: re-download it from the model's repository`, { cause: e });
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`${file} is not a JSON object: re-download it from the model's repository`);
  }
  return v as Record<string, unknown>;
}

function readVocab(file: string): Map<string, number> {
  const obj = readJsonObject(file);
  const map = new Map<string, number>();
  for (const [piece, id] of Object.entries(obj)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new Error(
        `${file} maps "${piece}" to ${JSON.stringify(id)}, not an id: it should be the piece -> id map of an opus-mt model; re-download it`,
      );
    }
    map.set(piece, id);
  }
  return map;
}
