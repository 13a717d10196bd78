// The in-process translators: an NLLB-200 / M2M100 or a Marian (opus-mt) folder behind the
// Translator interface. Texts are tokenized the way the checkpoint was trained (NLLB:
// `[src_lang] tokens </s>` with the target language forced as the first generated token; Marian:
// `tokens </s>` through source.spm), sorted by length so that a batch pads little, decoded, and
// put back in the caller's order.

import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { nllbRow } from "../text/nllb-input.ts";
import { isNllbLang, nllbLangTokenId, resolveNllbLang } from "../text/nllb-langs.ts";
import { loadMarianTokenizer, type MarianTokenizer } from "../text/sentencepiece.ts";
import { checkTokenizerFits, loadTokenizer, type TextTokenizer } from "../text/tokenizer.ts";
import { readConfig } from "../weights/config.ts";
import { hubRepoOf } from "../weights/hub.ts";
import type { GenerateOptions } from "./generation-config.ts";
import { Seq2Seq } from "./seq2seq.ts";
import type { Translator } from "./translator.ts";

export type Seq2SeqKind = "nllb" | "marian";

export interface Seq2SeqTranslatorOptions {
  /** Default: from config.json's model_type (m2m_100 -> nllb, marian -> marian). */
  kind?: Seq2SeqKind;
  threads?: number;
  /** Beam width; default the folder's generation_config.json (NLLB 1, opus-mt 4). */
  beams?: number;
  /** Default: the folder's max_length (NLLB 200, opus-mt 512). */
  maxNewTokens?: number;
  /** Texts per generate call. Default 16. */
  batchSize?: number;
  /** "int8": int8 linear layers (faster on CPU, slightly different output). Default float32. */
  dtype?: "float32" | "int8";
}

export interface TranslateProgress {
  /** Called after each batch with the texts translated so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface Seq2SeqTranslator extends Translator {
  readonly name: Seq2SeqKind;
  /** The model folder. */
  readonly dir: string;
  /**
   * Marian: the folder's language pair as its tokenizer_config.json or repository name states it,
   * as NLLB-200 codes where a side names one language (null where neither file nor name says);
   * NLLB: null (any of its languages).
   */
  readonly pair: { from: string; to: string } | null;
  translate(texts: readonly string[], from: string, to: string, opts?: TranslateProgress): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * What a translation folder needs from the hub (resolveModel's `files`): config and generation
 * defaults, NLLB's tokenizer.json or opus-mt's SentencePiece files with vocab.json, and the weights.
 */
export const TRANSLATION_MODEL_FILES: readonly string[] = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "sentencepiece.bpe.model",
  "source.spm",
  "target.spm",
  "vocab.json",
  "target_vocab.json",
  "model.safetensors|model.safetensors.index.json|pytorch_model.bin|pytorch_model.bin.index.json",
];

const DEFAULT_BATCH = 16;
const KINDS: Record<string, Seq2SeqKind> = { m2m_100: "nllb", marian: "marian" };

/** Opens `modelDir` (a local folder: resolve hub ids with resolveModel first). */
export async function createSeq2SeqTranslator(
  modelDir: string,
  opts: Seq2SeqTranslatorOptions = {},
): Promise<Seq2SeqTranslator> {
  const config = readConfig(join(modelDir, "config.json"));
  const kind = opts.kind ?? KINDS[config.modelType];
  if (kind === undefined)
    throw new Error(
      `${modelDir} is a "${config.modelType}" model, not a translation model: give an NLLB-200 / M2M100 or opus-mt (Marian) folder`,
    );
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new Error(`batch size must be a whole number of at least 1, got ${batchSize}`);
  // The tokenizer first: a folder without one fails before the weights are read.
  const side = kind === "nllb" ? nllbSide(modelDir) : marianSide(modelDir);
  checkTokenizerFits(side.tokenizer, config.vocabSize, modelDir);
  const seq = await Seq2Seq.load(modelDir, { threads: opts.threads, dtype: opts.dtype });
  const maxSource = Math.min(side.tokenizer.modelMaxLength ?? Infinity, config.maxTokens);
  const generateOptions: GenerateOptions = { numReturnSequences: 1 };
  if (opts.beams !== undefined) generateOptions.numBeams = opts.beams;
  if (opts.maxNewTokens !== undefined) generateOptions.maxNewTokens = opts.maxNewTokens;

  return {
    name: kind,
    dir: modelDir,
    pair: side.pair,
    async translate(texts, from, to, progress = {}) {
      const plan = side.prepare(from, to);
      const out: string[] = new Array(texts.length).fill("");
      // Blank texts translate to nothing; the model would still invent a sentence for them.
      const rows = texts.flatMap((text, i) => {
        if (typeof text !== "string") throw new Error(`translate: text ${i} is not a string`);
        return text.trim() === "" ? [] : [{ i, ids: plan.row(text, maxSource) }];
      });
      // Longest first: the slowest batch runs while the estimate of the rest is still rough, and
      // rows of one batch have about the same length, so padding and finished rows waste little.
      rows.sort((a, b) => b.ids.length - a.ids.length || a.i - b.i);
      let done = texts.length - rows.length;
      progress.onProgress?.(done, texts.length);
      for (let s = 0; s < rows.length; s += batchSize) {
        const batch = rows.slice(s, s + batchSize);
        const hyps = await seq.generate(
          batch.map((r) => r.ids),
          { ...generateOptions, ...plan.generate },
        );
        batch.forEach((r, k) => (out[r.i] = plan.decode(hyps[k][0].ids)));
        done += batch.length;
        progress.onProgress?.(done, texts.length);
      }
      return out;
    },
    close: () => seq.release(),
  };
}

interface Plan {
  row(text: string, maxTokens: number): number[];
  generate: GenerateOptions;
  decode(ids: readonly number[]): string;
}

interface Side {
  tokenizer: TextTokenizer;
  pair: { from: string; to: string } | null;
  prepare(from: string, to: string): Plan;
}

function nllbSide(dir: string): Side {
  const tok = loadTokenizer(dir);
  const eos = tok.specialIds.eos ?? tok.tokenToId("</s>");
  if (eos === undefined) throw new Error(`${tok.source} has no </s> token: load an NLLB-200 tokenizer.json`);
  const decode = tok.decode;
  if (decode === undefined) throw new Error(`${tok.source}: this tokenizer cannot decode`);
  return {
    tokenizer: tok,
    pair: null,
    prepare(from, to) {
      const src = nllbLangTokenId(tok, from);
      const tgt = nllbLangTokenId(tok, to);
      return {
        row: (text, maxTokens) => nllbRow(tok.encodeText(text), src, eos, maxTokens).ids,
        generate: { forcedBosTokenId: tgt },
        // ids[0] is the decoder start and ids[1] the forced language; a tokenizer.json that does not
        // mark language codes special would otherwise print them.
        decode: (ids) => decode(ids.slice(ids[1] === tgt ? 2 : 1)).trim(),
      };
    },
  };
}

function marianSide(dir: string): Side {
  const tok: MarianTokenizer = loadMarianTokenizer(dir);
  const pair = marianPair(dir);
  // Multilingual opus-mt models pick the target with a ">>fra<<" token at the start of the source.
  const targetCodes = new Set<string>();
  for (let id = 0; id < tok.vocabSize; id++) {
    const t = tok.idToToken(id);
    if (t !== undefined && /^>>\S+<<$/.test(t)) targetCodes.add(t.slice(2, -2));
  }
  const where = pair ? `${dir} translates ${pair.from} -> ${pair.to}` : "";
  return {
    tokenizer: tok,
    pair,
    prepare(from, to) {
      const toCode = resolveNllbLang(to);
      if (from !== "auto") {
        const fromCode = resolveNllbLang(from);
        if (pair && !sameLanguage(fromCode, pair.from))
          throw new Error(
            `${where}, not from ${from}: give --from ${pair.from}, or an opus-mt model for ${from}`,
          );
      }
      if (pair && !sameLanguage(toCode, pair.to))
        throw new Error(`${where}, not to ${to}: give --to ${pair.to}, or an opus-mt model for ${to}`);
      let prefix = "";
      if (targetCodes.size > 0) {
        const code = [to, toCode, toCode.slice(0, 3)].find((c) => targetCodes.has(c));
        if (code === undefined)
          throw new Error(
            `${dir} has no target language token for ${to} (it has ${[...targetCodes].slice(0, 8).join(", ")}${targetCodes.size > 8 ? ", ..." : ""}): give one of them as --to`,
          );
        prefix = `>>${code}<< `;
      }
      return {
        row: (text, maxTokens) => {
          const ids = tok.encode(prefix + text);
          return ids.length > maxTokens ? [...ids.slice(0, maxTokens - 1), tok.eosId] : ids;
        },
        generate: {},
        decode: (ids) => tok.decode(ids),
      };
    },
  };
}

/**
 * An opus-mt folder's language pair: tokenizer_config.json's source_lang / target_lang, else an
 * `opus-mt-xx-yy` repository or folder name. Group names (ROMANCE, mul) resolve to no single
 * language and leave that side unchecked.
 */
export function marianPair(dir: string): { from: string; to: string } | null {
  const file = join(dir, "tokenizer_config.json");
  let from: unknown;
  let to: unknown;
  if (existsSync(file)) {
    try {
      const cfg = JSON.parse(readFileSync(file, "utf8"));
      from = cfg.source_lang;
      to = cfg.target_lang;
    } catch {
      // loadMarianTokenizer reports a broken tokenizer_config.json
    }
  }
  if (typeof from !== "string" || typeof to !== "string") {
    const name = hubRepoOf(dir)?.split("/")[1] ?? basename(dir);
    const m = /^opus-mt-([^-]+)-([^-]+)$/i.exec(name);
    if (!m) return null;
    [from, to] = [m[1], m[2]];
  }
  const single = (c: string): string => {
    try {
      return resolveNllbLang(c);
    } catch {
      return c;
    }
  };
  return { from: single(from as string), to: single(to as string) };
}

/**
 * Same language whatever the script (an opus-mt zh model reads zho_Hans and zho_Hant alike); a
 * side that names no single NLLB-200 language (a group) accepts any.
 */
function sameLanguage(code: string, pairSide: string): boolean {
  return !isNllbLang(pairSide) || code.slice(0, 3) === pairSide.slice(0, 3);
}
