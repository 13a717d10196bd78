// The in-process translators on every seq2seq fixture model, with a word-per-id tokenizer built
// for it: translating the text of a fixture's source rows must print the text of the ids that
// transformers' generate gave (greedy and beam), so tokenization, the source layout, the forced
// target language and decoding all agree with the reference; and the length sort must not leak
// into the order of the results.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createSeq2SeqTranslator, marianPair } from "../../src/generate/seq2seq-translator.ts";
import { Seq2Seq } from "../../src/generate/seq2seq.ts";
import { seq2seqFolders } from "../helpers/seq2seq-fixtures.ts";
import { sourceTexts, translationDir } from "../helpers/translation-dirs.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-translator-"));
after(() => rmSync(root, { recursive: true, force: true }));

it("finds the seq2seq fixtures", () => assert.ok(seq2seqFolders.length >= 2, "no fixture folders"));

for (const fixture of seq2seqFolders) {
  describe(`translator: ${fixture}`, () => {
    const t = translationDir(fixture, root);
    const { greedy, beam } = t.cases;
    const texts = sourceTexts(t);
    // NLLB fixtures name their languages; Marian ones have a single pair and take any code
    const from = t.cases.src_lang ?? "eng_Latn";
    const to = t.cases.tgt_lang ?? "eng_Latn";
    const greedyWant = (greedy.sequences as number[][]).map((ids) => t.textOf(ids));
    const beamWidth = beam.generate_kwargs.num_beams as number;
    const perRow = (beam.generate_kwargs.num_return_sequences ?? 1) as number;
    const beamWant = texts.map((_, b) => t.textOf(beam.sequences[b * perRow]));
    const maxNewTokens = greedy.generate_kwargs.max_new_tokens as number;

    it("greedy: the text of the reference ids, in the caller's order", async () => {
      const tr = await createSeq2SeqTranslator(t.dir, { threads: 1, beams: 1, maxNewTokens });
      try {
        assert.equal(tr.name, t.kind);
        assert.ok(
          greedyWant.every((s) => s.length > 0),
          "the reference generated some ordinary tokens",
        );
        assert.deepEqual(await tr.translate(texts, from, to), greedyWant);
        // rows of different lengths, blank text and repeats: sorted by length inside, not outside
        const mixed = [texts[1], "", texts[0], "  ", texts[1]];
        const want = [greedyWant[1], "", greedyWant[0], "", greedyWant[1]];
        const seen: number[] = [];
        assert.deepEqual(
          await tr.translate(mixed, from, to, { onProgress: (done) => seen.push(done) }),
          want,
        );
        assert.equal(seen.at(-1), mixed.length);
      } finally {
        await tr.close();
      }
      const one = await createSeq2SeqTranslator(t.dir, { threads: 1, beams: 1, maxNewTokens, batchSize: 1 });
      try {
        assert.deepEqual(await one.translate([texts[1], texts[0]], from, to), [greedyWant[1], greedyWant[0]]);
      } finally {
        await one.close();
      }
    });

    it("beam search: the text of the best reference hypothesis", async () => {
      const tr = await createSeq2SeqTranslator(t.dir, {
        threads: 1,
        beams: beamWidth,
        maxNewTokens: beam.generate_kwargs.max_new_tokens,
      });
      try {
        assert.deepEqual(await tr.translate(texts, from, to), beamWant);
      } finally {
        await tr.close();
      }
    });

    if (t.kind === "nllb") {
      it("NLLB: the target language is the forced first token; aliases and missing codes", async () => {
        const tr = await createSeq2SeqTranslator(t.dir, { threads: 1, beams: 1, maxNewTokens });
        const seq = await Seq2Seq.load(t.dir, { threads: 1 });
        try {
          const other = [...t.langIds.keys()].find((c) => c !== to && c !== from)!;
          const rows = (t.cases.encoder.input_ids as number[][]).map((r, b) =>
            r.filter((_, j) => t.cases.encoder.attention_mask[b][j] === 1),
          );
          const hyps = await seq.generate(rows, { forcedBosTokenId: t.langIds.get(other), maxNewTokens });
          hyps.forEach((h) => assert.equal(h[0].ids[1], t.langIds.get(other)));
          assert.deepEqual(
            await tr.translate(texts, from, other),
            hyps.map((h) => t.textOf(h[0].ids)),
          );
          // FLORES codes or aliases (hin_Deva / hi) give the same token
          const alias = { hin_Deva: "hi", eng_Latn: "en", fra_Latn: "fr" }[to as string];
          if (alias) assert.deepEqual(await tr.translate(texts, from, alias), greedyWant);
          const absent = ["deu_Latn", "spa_Latn", "rus_Cyrl"].find((c) => !t.langIds.has(c))!;
          await assert.rejects(tr.translate(texts, from, absent), (e: Error) =>
            e.message.includes(`has no token for language ${absent}`),
          );
          await assert.rejects(tr.translate(texts, from, "xx_Nope"), /unknown language code "xx_Nope"/);
        } finally {
          await tr.close();
          await seq.release();
        }
      });
    } else {
      it("Marian: from/to are checked against the folder's language pair", async () => {
        writeFileSync(
          join(t.dir, "tokenizer_config.json"),
          JSON.stringify({ source_lang: "zh", target_lang: "en" }),
        );
        assert.deepEqual(marianPair(t.dir), { from: "zho_Hans", to: "eng_Latn" });
        const tr = await createSeq2SeqTranslator(t.dir, { threads: 1, beams: 1, maxNewTokens });
        try {
          assert.deepEqual(await tr.translate(texts, "zh-Hant", "en"), greedyWant);
          await assert.rejects(
            tr.translate(texts, "fr", "en"),
            /translates zho_Hans -> eng_Latn, not from fr/,
          );
          await assert.rejects(tr.translate(texts, "zh", "de"), /not to de: give --to eng_Latn/);
        } finally {
          await tr.close();
          rmSync(join(t.dir, "tokenizer_config.json"));
        }
      });
    }
  });
}

it("refuses a folder that is not a translation model", async () => {
  const dir = mkdtempSync(join(root, "bert-"));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      model_type: "bert",
      vocab_size: 10,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 16,
    }),
  );
  await assert.rejects(createSeq2SeqTranslator(dir), /is a "bert" model, not a translation model/);
});
