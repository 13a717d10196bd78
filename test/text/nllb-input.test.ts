import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixturesRoot } from "../helpers/shared.ts";
import { buildNllbBatch, nllbRow } from "../../src/text/nllb-input.ts";
import { encodeBatch, tokenizerFromJson } from "../../src/text/tokenizer.ts";
import { tinyNllb } from "../helpers/tiny-tokenizers.ts";

describe("nllbRow", () => {
  it("puts the language code first and </s> last, cutting the text to fit", () => {
    assert.deepEqual(nllbRow([7, 8, 9], 100, 2, 10), { ids: [100, 7, 8, 9, 2], truncated: false });
    assert.deepEqual(nllbRow([7, 8, 9], 100, 2, 5), { ids: [100, 7, 8, 9, 2], truncated: false });
    assert.deepEqual(nllbRow([7, 8, 9], 100, 2, 4), { ids: [100, 7, 8, 2], truncated: true });
    assert.deepEqual(nllbRow([7], 100, 2, 2), { ids: [100, 2], truncated: true });
    assert.deepEqual(nllbRow([], 100, 2, 2), { ids: [100, 2], truncated: false });
  });

  it("rejects a maxTokens below 2", () => {
    assert.throws(() => nllbRow([], 100, 2, 1), /maxTokens 1 is too small for an NLLB row/);
    assert.throws(() => nllbRow([], 100, 2, 2.5), /maxTokens 2.5/);
  });
});

describe("buildNllbBatch on a tiny NLLB-like tokenizer", () => {
  const { tokenizer, config } = tinyNllb();
  const tok = tokenizerFromJson(tokenizer, config, "tiny-nllb");
  const id = (t: string) => tok.tokenToId(t)!;
  const [hello, world, eos, pad] = [id("▁hello"), id("▁world"), 2, 1];

  it("replaces the post-processor's eng_Latn with the language asked for", () => {
    assert.deepEqual(encodeBatch(tok, ["hello world"]).ids, [[id("eng_Latn"), hello, world, eos]]);
    const out = buildNllbBatch(tok, ["hello world"], { lang: "hi", maxTokens: 508 });
    assert.deepEqual([...out.ids], [id("hin_Deva"), hello, world, eos]);
  });

  it("defaults to eng_Latn", () => {
    const out = buildNllbBatch(tok, ["world"], { maxTokens: 508 });
    assert.deepEqual([...out.ids], [id("eng_Latn"), world, eos]);
  });

  it("builds, truncates and right-pads rows with a per-row language", () => {
    const out = buildNllbBatch(tok, ["hello world", "", "world hello world hello"], {
      lang: ["hin_Deva", "en", "zh-TW"],
      maxTokens: 4,
    });
    assert.equal(out.batch, 3);
    assert.equal(out.seqLen, 4);
    // prettier-ignore
    assert.deepEqual([...out.ids], [
      id("hin_Deva"), hello, world, eos,
      id("eng_Latn"), eos, pad, pad,
      id("zho_Hant"), world, hello, eos,
    ]);
    // prettier-ignore
    assert.deepEqual([...out.attentionMask], [
      1, 1, 1, 1,
      1, 1, 0, 0,
      1, 1, 1, 1,
    ]);
    assert.deepEqual(out.lengths, [4, 2, 4]);
    assert.deepEqual(out.truncated, [false, false, true]);
  });

  it("pads to padTo when asked", () => {
    const out = buildNllbBatch(tok, ["hello"], { lang: "zh", maxTokens: 508, padTo: 6 });
    assert.deepEqual([...out.ids], [id("zho_Hans"), hello, eos, pad, pad, pad]);
    assert.deepEqual([...out.attentionMask], [1, 1, 1, 0, 0, 0]);
  });

  it("gives clear errors for bad languages and options", () => {
    assert.throws(
      () => buildNllbBatch(tok, ["a"], { lang: "klingon", maxTokens: 8 }),
      /unknown language code "klingon"/,
    );
    assert.throws(
      () => buildNllbBatch(tok, ["a"], { lang: "fra_Latn", maxTokens: 8 }),
      /no token for language fra_Latn/,
    );
    assert.throws(
      () => buildNllbBatch(tok, ["a", "b"], { lang: ["hi"], maxTokens: 8 }),
      /got 1 languages for 2 texts: give one language or one per text/,
    );
    assert.throws(() => buildNllbBatch(tok, ["a"], { maxTokens: 1 }), /maxTokens 1 is too small/);
  });
});

// The NLLB-E5 fixture gives NLLB input ids built from random token ids. A WordLevel tokenizer whose
// word "t<k>" is id k (with the fixture's special and language ids) must rebuild them exactly.
describe("buildNllbBatch against the nllb-e5 fixture rows", () => {
  const dir = join(fixturesRoot, "nllb-e5");
  const present = existsSync(join(dir, "cases.json")) && existsSync(join(dir, "vocab.json"));

  it("rebuilds every case's input_ids and attention_mask", (t) => {
    if (!present) return t.skip("no nllb-e5 fixture");
    const vocab = JSON.parse(readFileSync(join(dir, "vocab.json"), "utf8")).nllb as {
      vocab_size: number;
      special_ids: Record<string, number>;
      lang_code_ids: Record<string, number>;
    };
    const named = { ...vocab.special_ids, ...vocab.lang_code_ids };
    const words: Record<string, number> = {};
    for (let k = 0; k < vocab.vocab_size; k++) words[`t${k}`] = k;
    const tok = tokenizerFromJson(
      {
        model: { type: "WordLevel", vocab: { ...words, ...named }, unk_token: "<unk>" },
        pre_tokenizer: { type: "WhitespaceSplit" },
        added_tokens: Object.entries(named).map(([content, id]) => ({ id, content, special: true })),
      },
      { eos_token: "</s>", pad_token: "<pad>", unk_token: "<unk>" },
      "fixture-nllb",
    );
    const { cases } = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as {
      cases: {
        langs: string[];
        nllb: { input_ids: number[][]; attention_mask: number[][]; lengths: number[] };
      }[];
    };
    for (const c of cases) {
      const texts = c.nllb.input_ids.map((row, b) =>
        row
          .slice(1, c.nllb.lengths[b] - 1)
          .map((k) => `t${k}`)
          .join(" "),
      );
      const out = buildNllbBatch(tok, texts, { lang: c.langs, maxTokens: 508 });
      assert.deepEqual([...out.ids], c.nllb.input_ids.flat());
      assert.deepEqual([...out.attentionMask], c.nllb.attention_mask.flat());
      assert.deepEqual(out.lengths, c.nllb.lengths);
    }
  });
});
