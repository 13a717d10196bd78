// Greedy and beam search against transformers' generate on every fixture model under
// <fixtures>/seq2seq: output ids exactly, scores within the README's tolerances.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { GenerateOptions } from "../../src/generate/generation-config.ts";
import type { Hypothesis } from "../../src/generate/hypothesis.ts";
import { Seq2Seq } from "../../src/generate/seq2seq.ts";
import { readCases, seq2seqFolders, seq2seqRoot } from "../helpers/seq2seq-fixtures.ts";

const TOL = { tokenScores: 5e-5, sequenceScores: 2e-5 };

// generate() kwargs of the reference and their options here; any other kwarg fails the test
const KWARGS: Record<string, keyof GenerateOptions | null> = {
  do_sample: null,
  output_scores: null,
  return_dict_in_generate: null,
  max_new_tokens: "maxNewTokens",
  max_length: "maxLength",
  num_beams: "numBeams",
  num_return_sequences: "numReturnSequences",
  length_penalty: "lengthPenalty",
  early_stopping: "earlyStopping",
  no_repeat_ngram_size: "noRepeatNgramSize",
  forced_bos_token_id: "forcedBosTokenId",
  renormalize_logits: "renormalizeLogits",
  bad_words_ids: "badWordsIds",
  forced_eos_token_id: "forcedEosTokenIds",
  eos_token_id: "eosTokenIds",
  pad_token_id: "padTokenId",
  decoder_start_token_id: "decoderStartTokenId",
};
const ID_LISTS = new Set(["forced_eos_token_id", "eos_token_id"]);

function options(kwargs: Record<string, unknown>): GenerateOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) {
    assert.ok(k in KWARGS, `generate kwarg ${k} is not mapped`);
    if (k === "do_sample") assert.equal(v, false, "sampling is not implemented");
    const name = KWARGS[k];
    if (name) out[name] = ID_LISTS.has(k) ? [v].flat() : v;
  }
  return out as GenerateOptions;
}

/** The fixture's padded source rows without their padding. */
const sources = (enc: { input_ids: number[][]; attention_mask: number[][] }) =>
  enc.input_ids.map((r, i) => r.filter((_, j) => enc.attention_mask[i][j] === 1));

/** transformers' padded `sequences` layout. */
function padded(hyps: Hypothesis[], pad: number): number[][] {
  const len = Math.max(...hyps.map((h) => h.ids.length));
  return hyps.map((h) => [...h.ids, ...Array<number>(len - h.ids.length).fill(pad)]);
}

test("the fixtures root holds seq2seq model folders", () =>
  assert.ok(seq2seqFolders.length > 0, `no */cases.json under ${seq2seqRoot}`));

for (const name of seq2seqFolders) {
  test(`generate: ${name}`, async (t) => {
    const ref = readCases(name);
    const model = await Seq2Seq.load(join(seq2seqRoot, name), { threads: 1 });
    const pad = model.defaults.padTokenId;
    const rows = sources(ref.encoder);
    try {
      await t.test("greedy", async () => {
        const out = await model.generate(rows, options(ref.greedy.generate_kwargs));
        const hyps = out.map((h) => h[0]);
        assert.deepEqual(padded(hyps, pad), ref.greedy.sequences);
        hyps.forEach((h, b) => {
          const want = (ref.greedy.chosen_token_scores[b] as (number | null)[]).filter((v) => v !== null);
          assert.equal(h.tokenScores!.length, want.length, `row ${b}: number of scores`);
          h.tokenScores!.forEach((v, i) =>
            assert.ok(
              Math.abs(v - want[i]) <= TOL.tokenScores,
              `row ${b} step ${i}: score ${v} vs ${want[i]}`,
            ),
          );
        });
      });
      await t.test("beam search", async () => {
        const beam = ref.beam;
        const out = (await model.generate(rows, options(beam.generate_kwargs))).flat();
        assert.deepEqual(padded(out, pad), beam.sequences);
        out.forEach((h, i) => {
          assert.equal(h.generatedLen, beam.generated_len[i], `hypothesis ${i}: generated_len`);
          const ds = Math.abs(h.score - beam.sequences_scores[i]);
          assert.ok(
            ds <= TOL.sequenceScores,
            `hypothesis ${i}: score ${h.score} vs ${beam.sequences_scores[i]}`,
          );
          const dl = Math.abs(h.sumLogprobs - beam.sum_logprobs[i]);
          assert.ok(
            dl <= TOL.sequenceScores * h.generatedLen,
            `hypothesis ${i}: sum_logprobs ${h.sumLogprobs}`,
          );
        });
      });
    } finally {
      await model.release();
    }
  });
}

for (const name of seq2seqFolders) {
  test(`int8 (${name}): encoder states near float32's, and generation runs`, async () => {
    const ref = readCases(name);
    const rows = sources(ref.encoder);
    const dir = join(seq2seqRoot, name);
    const [f32, i8] = [
      await Seq2Seq.load(dir, { threads: 1 }),
      await Seq2Seq.load(dir, { threads: 1, dtype: "int8" }),
    ];
    try {
      const a = (await f32.encode(rows)).data;
      const b = (await i8.encode(rows)).data;
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < a.length; i++) [dot, na, nb] = [dot + a[i] * b[i], na + a[i] ** 2, nb + b[i] ** 2];
      assert.ok(dot / Math.sqrt(na * nb) > 0.99, `cosine ${dot / Math.sqrt(na * nb)}`);
      assert.notDeepEqual(a, b, "int8 ran the float32 graph");
      const out = await i8.generate(rows, { maxNewTokens: 4, numBeams: 1 });
      assert.equal(out.length, rows.length);
      for (const [h] of out) assert.ok(h.ids.length >= 2 && h.ids.length <= 5, `${h.ids}`);
    } finally {
      await f32.release();
      await i8.release();
    }
  });
}
