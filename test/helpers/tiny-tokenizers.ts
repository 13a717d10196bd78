// Tiny tokenizer.json folders the text tests build for themselves (no downloads, no fixtures).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addedToken, BERT_POST, BERT_SPECIALS, wordPieceJson } from "../../src/text/wordpiece-json.ts";

export { BERT_POST, BERT_SPECIALS, wordPieceJson };

const made: string[] = [];

/** Writes the given files (objects become JSON) into a fresh temp folder and returns its path. */
export function writeModelDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "xlir-tok-"));
  made.push(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  }
  return dir;
}

/** Deletes the folders writeModelDir made (call from an after() hook). */
export function removeModelDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export const bertTokenizerConfig = (maxLength: number) => ({
  model_max_length: maxLength,
  pad_token: "[PAD]",
  unk_token: "[UNK]",
  cls_token: "[CLS]",
  sep_token: "[SEP]",
  mask_token: "[MASK]",
});

/** BERT-like WordPiece: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, lowercasing, BertProcessing. */
export function tinyWordPiece(
  extra: readonly string[] = [],
  maxLength = 8,
): { tokenizer: object; config: object } {
  const words = ["hello", "world", "##s", "the", "a", ".", ...extra];
  return {
    tokenizer: wordPieceJson(BERT_SPECIALS, words, "[UNK]", BERT_POST),
    config: bertTokenizerConfig(maxLength),
  };
}

export const NLLB_TINY_LANGS = ["eng_Latn", "hin_Deva", "zho_Hans", "zho_Hant"];

/**
 * NLLB-like Unigram: <s>=0 <pad>=1 </s>=2 <unk>=3, a few pieces, the language codes above as
 * added tokens after the vocabulary, then <mask>; its post-processor prepends eng_Latn as
 * NLLB's tokenizer.json does.
 */
export function tinyNllb(): { tokenizer: object; config: object } {
  const pieces: [string, number][] = [
    ["<s>", 0],
    ["<pad>", 0],
    ["</s>", 0],
    ["<unk>", 0],
    ["▁hello", -2],
    ["▁world", -2],
    ["▁", -3],
    ...[..."helowrd"].map((c): [string, number] => [c, -5]),
  ];
  const langTokens = NLLB_TINY_LANGS.map((code, i) => addedToken(pieces.length + i, code));
  const mask = { ...addedToken(pieces.length + langTokens.length, "<mask>"), lstrip: true };
  const metaspace = { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true };
  const specialToken = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const seq = (id: string) => ({ Sequence: { id, type_id: 0 } });
  return {
    tokenizer: {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [
        ...["<s>", "<pad>", "</s>", "<unk>"].map((t, i) => addedToken(i, t)),
        ...langTokens,
        mask,
      ],
      normalizer: null,
      pre_tokenizer: metaspace,
      post_processor: {
        type: "TemplateProcessing",
        single: [specialToken("eng_Latn"), seq("A"), specialToken("</s>")],
        pair: [specialToken("eng_Latn"), seq("A"), seq("B"), specialToken("</s>")],
        special_tokens: {
          eng_Latn: { id: "eng_Latn", ids: [langTokens[0].id], tokens: ["eng_Latn"] },
          "</s>": { id: "</s>", ids: [2], tokens: ["</s>"] },
        },
      },
      decoder: metaspace,
      model: { type: "Unigram", unk_id: 3, vocab: pieces, byte_fallback: false },
    },
    config: {
      // transformers writes special tokens as AddedToken objects in some versions.
      bos_token: { __type: "AddedToken", content: "<s>" },
      eos_token: { __type: "AddedToken", content: "</s>" },
      pad_token: "<pad>",
      unk_token: "<unk>",
      mask_token: "<mask>",
      additional_special_tokens: NLLB_TINY_LANGS,
      model_max_length: 1024,
      tokenizer_class: "NllbTokenizer",
    },
  };
}
