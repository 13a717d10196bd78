// Translation model folders made from the seq2seq fixtures (which are token ids only): the
// fixture's weights and configs plus a tokenizer in which every ordinary id is a word "w<id>", so a
// fixture's id rows become texts and its generated ids the text a translator must print. NLLB-like
// folders get a tokenizer.json with the special and language-code tokens as added tokens at the
// fixture's ids; Marian folders get source.spm / target.spm (one piece per word) and vocab.json.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addedToken } from "../../src/text/wordpiece-json.ts";
import { readCases, seq2seqRoot, type Cases } from "./seq2seq-fixtures.ts";
import { buildModel, type PieceSpec } from "./spm.ts";

export interface TranslationDir {
  dir: string;
  kind: "nllb" | "marian";
  cases: Cases;
  /** The text of source ids (special ids left out). */
  textOf(ids: readonly number[]): string;
  /** Language codes of an NLLB fixture by id (empty for Marian). */
  langIds: Map<string, number>;
}

const SPECIAL_NAMES: Record<string, string> = {
  bos: "<s>",
  pad: "<pad>",
  eos: "</s>",
  unk: "<unk>",
  mask: "<mask>",
};

export function translationDir(fixture: string, parent: string): TranslationDir {
  const src = join(seq2seqRoot, fixture);
  const cases = readCases(fixture);
  const config = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
  const kind = config.model_type === "marian" ? "marian" : "nllb";
  const dir = mkdtempSync(join(parent, `${fixture}-`));
  for (const f of ["config.json", "generation_config.json", "model.safetensors"])
    if (existsSync(join(src, f))) copyFileSync(join(src, f), join(dir, f));

  const names: string[] = Array.from({ length: config.vocab_size }, (_, id) => `w${id}`);
  const special = new Set<number>();
  for (const [key, id] of Object.entries(cases.special_ids as Record<string, number>)) {
    if (SPECIAL_NAMES[key] === undefined) continue; // decoder_start repeats another id
    names[id] = SPECIAL_NAMES[key];
    special.add(id);
  }
  const langIds = new Map<string, number>(Object.entries(cases.lang_codes ?? {}));
  for (const [code, id] of langIds) {
    names[id] = code;
    special.add(id);
  }
  const textOf = (ids: readonly number[]) =>
    ids
      .filter((id) => !special.has(id))
      .map((id) => names[id])
      .join(" ");

  if (kind === "nllb") {
    const tokenizer = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [...special].sort((a, b) => a - b).map((id) => addedToken(id, names[id])),
      normalizer: null,
      pre_tokenizer: { type: "WhitespaceSplit" },
      post_processor: null,
      decoder: null,
      model: {
        type: "WordLevel",
        vocab: Object.fromEntries(names.map((n, i) => [n, i])),
        unk_token: "<unk>",
      },
    };
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({
        model_max_length: 1024,
        bos_token: "<s>",
        eos_token: "</s>",
        pad_token: "<pad>",
        unk_token: "<unk>",
        additional_special_tokens: [...langIds.keys()],
      }),
    );
  } else {
    const words = names.flatMap((n, id) => (special.has(id) ? [] : [`\u2581${n}`]));
    const pieces: PieceSpec[] = [
      ["<unk>", 0, "UNKNOWN"],
      ["<s>", 0, "CONTROL"],
      ["</s>", 0, "CONTROL"],
      ...words.map((w): PieceSpec => [w, -1]),
    ];
    writeFileSync(join(dir, "source.spm"), buildModel({ pieces }));
    writeFileSync(join(dir, "target.spm"), buildModel({ pieces }));
    const vocab: Record<string, number> = {};
    names.forEach((n, id) => (vocab[special.has(id) ? n : `\u2581${n}`] = id));
    writeFileSync(join(dir, "vocab.json"), JSON.stringify(vocab));
  }
  return { dir, kind, cases, textOf, langIds };
}

/** The source texts of a fixture's encoder rows (language code, </s> and padding left out). */
export function sourceTexts(t: TranslationDir): string[] {
  const { input_ids, attention_mask } = t.cases.encoder as {
    input_ids: number[][];
    attention_mask: number[][];
  };
  return input_ids.map((row, b) => t.textOf(row.filter((_, j) => attention_mask[b][j] === 1)));
}
