// NLLB encoder input rows as NLLB-E5 feeds them: [lang_code, text tokens..., </s>], right-padded.
// NLLB's tokenizer.json post-processor always prepends eng_Latn, so we encode the text without
// special tokens and put the caller's language code in front ourselves.
import { nllbLangTokenId } from "./nllb-langs.ts";
import { padBatch, type PaddedBatch, type TextTokenizer } from "./tokenizer.ts";

export interface NllbBatchOptions {
  /** One language for every text or one per text; any spelling resolveNllbLang accepts. */
  lang?: string | readonly string[];
  /** Longest row, language code and </s> included (NLLB-E5 uses 508). */
  maxTokens: number;
  /** Pad to at least this many columns (e.g. a fixed graph length); default the longest row. */
  padTo?: number;
}

export interface NllbBatch extends PaddedBatch {
  /** Valid tokens per row (language code + text tokens + </s>). */
  lengths: number[];
  /** Rows whose text lost tokens to maxTokens, so the caller can warn once. */
  truncated: boolean[];
}

export const DEFAULT_NLLB_LANG = "eng_Latn";

/** One row: the language code, the text ids cut so the row fits maxTokens, then </s>. */
export function nllbRow(
  textIds: readonly number[],
  langId: number,
  eosId: number,
  maxTokens: number,
): { ids: number[]; truncated: boolean } {
  if (!Number.isInteger(maxTokens) || maxTokens < 2) {
    throw new Error(`maxTokens ${maxTokens} is too small for an NLLB row: give an integer of at least 2`);
  }
  const room = maxTokens - 2;
  const truncated = textIds.length > room;
  return { ids: [langId, ...(truncated ? textIds.slice(0, room) : textIds), eosId], truncated };
}

/** Tokenizes texts into a padded [batch, seqLen] NLLB encoder input with its attention mask. */
export function buildNllbBatch(
  tok: TextTokenizer,
  texts: readonly string[],
  options: NllbBatchOptions,
): NllbBatch {
  const langs = options.lang ?? DEFAULT_NLLB_LANG;
  if (typeof langs !== "string" && langs.length !== texts.length) {
    throw new Error(
      `got ${langs.length} languages for ${texts.length} texts: give one language or one per text`,
    );
  }
  const eosId = tok.specialIds.eos ?? tok.tokenToId("</s>");
  if (eosId === undefined)
    throw new Error(`${tok.source} has no </s> token: load an NLLB-200 tokenizer.json`);

  // Resolve each distinct language once, so a bad code fails before any tokenizing.
  const langIds = new Map<string, number>();
  const langIdOf = (lang: string): number => {
    let id = langIds.get(lang);
    if (id === undefined) langIds.set(lang, (id = nllbLangTokenId(tok, lang)));
    return id;
  };
  const rowLangIds = texts.map((_, i) => langIdOf(typeof langs === "string" ? langs : langs[i]));

  const rows = texts.map((text, i) => nllbRow(tok.encodeText(text), rowLangIds[i], eosId, options.maxTokens));
  const padded = padBatch(
    rows.map((r) => r.ids),
    tok.padId,
    { padTo: options.padTo },
  );
  return { ...padded, lengths: rows.map((r) => r.ids.length), truncated: rows.map((r) => r.truncated) };
}
