// Decoding settings with the meaning and defaults of transformers' GenerationConfig: read from the
// model folder's generation_config.json (else the generation fields of config.json, as
// GenerationConfig.from_model_config does), then overridden per call.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelConfig } from "../weights/config.ts";

export interface GenerationSettings {
  /** Longest output in ids, the decoder start token included (transformers' max_length). */
  maxLength: number;
  /** When set, wins over maxLength: maxLength = 1 + maxNewTokens. */
  maxNewTokens: number | null;
  numBeams: number;
  /** Hypotheses returned per input (at most numBeams); 1 for greedy. */
  numReturnSequences: number;
  lengthPenalty: number;
  /** true: stop a row at numBeams finished hypotheses; false: transformers' heuristic; "never": the exact bound. */
  earlyStopping: boolean | "never";
  noRepeatNgramSize: number;
  forcedBosTokenId: number | null;
  forcedEosTokenIds: number[];
  badWordsIds: number[][];
  renormalizeLogits: boolean;
  decoderStartTokenId: number;
  eosTokenIds: number[];
  padTokenId: number;
}

export type GenerateOptions = Partial<GenerationSettings>;

/** The folder's defaults; `cfg` supplies what neither file states. */
export function readGenerationSettings(dir: string, cfg: ModelConfig): GenerationSettings {
  const file = join(dir, "generation_config.json");
  let raw: Record<string, unknown> = cfg.raw as Record<string, unknown>;
  if (existsSync(file)) {
    try {
      raw = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new Error(`${file}: invalid JSON (${(e as Error).message}); fix or delete the file`, {
        cause: e,
      });
    }
  }
  const source = existsSync(file) ? file : join(dir, "config.json");
  const ids = (v: unknown, key: string): number[] => {
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => Number.isSafeInteger(x) && x >= 0))
      throw new Error(`${source}: "${key}" must be a token id or a list of them, got ${JSON.stringify(v)}`);
    return list as number[];
  };
  const num = (key: string, dflt: number): number => {
    const v = raw[key] ?? dflt;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new Error(`${source}: "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const eos = ids(raw.eos_token_id ?? cfg.eosTokenId, "eos_token_id");
  const pad = ids(raw.pad_token_id ?? cfg.padTokenId, "pad_token_id")[0] ?? eos[0];
  const start = ids(raw.decoder_start_token_id ?? cfg.decoder?.startTokenId, "decoder_start_token_id")[0];
  if (start === undefined)
    throw new Error(`${source}: no decoder_start_token_id; the checkpoint cannot be decoded`);
  const bad = raw.bad_words_ids ?? [];
  if (!Array.isArray(bad) || !bad.every((w) => Array.isArray(w) && w.every((x) => Number.isSafeInteger(x))))
    throw new Error(`${source}: "bad_words_ids" must be a list of lists of token ids`);
  const early = raw.early_stopping ?? false;
  if (early !== true && early !== false && early !== "never")
    throw new Error(`${source}: "early_stopping" must be true, false or "never"`);
  return {
    maxLength: num("max_length", 20),
    maxNewTokens: raw.max_new_tokens == null ? null : num("max_new_tokens", 0),
    numBeams: num("num_beams", 1),
    numReturnSequences: num("num_return_sequences", 1),
    lengthPenalty: num("length_penalty", 1),
    earlyStopping: early,
    noRepeatNgramSize: num("no_repeat_ngram_size", 0),
    forcedBosTokenId: ids(raw.forced_bos_token_id, "forced_bos_token_id")[0] ?? null,
    forcedEosTokenIds: ids(raw.forced_eos_token_id, "forced_eos_token_id"),
    badWordsIds: bad as number[][],
    renormalizeLogits: raw.renormalize_logits === true,
    decoderStartTokenId: start,
    eosTokenIds: eos,
    padTokenId: pad ?? 0,
  };
}

/** Defaults overridden by the caller's options; a caller's maxLength beats the file's max_new_tokens. */
export function resolveSettings(defaults: GenerationSettings, opts: GenerateOptions): GenerationSettings {
  const s: GenerationSettings = { ...defaults };
  for (const [k, v] of Object.entries(opts))
    if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
  if (opts.maxLength !== undefined && opts.maxNewTokens === undefined) s.maxNewTokens = null;
  if (s.maxNewTokens !== null) s.maxLength = 1 + s.maxNewTokens;
  const whole = (v: number, min: number) => Number.isSafeInteger(v) && v >= min;
  if (!whole(s.numBeams, 1)) throw new Error(`generate: numBeams must be an integer >= 1, got ${s.numBeams}`);
  if (!whole(s.numReturnSequences, 1) || s.numReturnSequences > s.numBeams)
    throw new Error(
      `generate: numReturnSequences must be between 1 and numBeams (${s.numBeams}), got ${s.numReturnSequences}`,
    );
  if (!whole(s.maxLength, 2))
    throw new Error(
      `generate: maxLength must be an integer >= 2 (the start token and one new token), got ${s.maxLength}; maxNewTokens must be >= 1`,
    );
  if (s.eosTokenIds.length === 0) throw new Error("generate: no eos token id (set eosTokenIds)");
  return s;
}
