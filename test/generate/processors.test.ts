// The logits processors on hand-made scores, and search behaviour the fixtures do not pin down:
// finished rows leave the batch, no_repeat_ngram_size holds, early_stopping true still returns
// ranked hypotheses.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { GenerationSettings } from "../../src/generate/generation-config.ts";
import { processScores } from "../../src/generate/processors.ts";
import { Seq2Seq } from "../../src/generate/seq2seq.ts";
import type { DecoderState } from "../../src/generate/seq2seq-model.ts";
import { seq2seqFolders, seq2seqRoot } from "../helpers/seq2seq-fixtures.ts";

const base: GenerationSettings = {
  maxLength: 10,
  maxNewTokens: null,
  numBeams: 1,
  numReturnSequences: 1,
  lengthPenalty: 1,
  earlyStopping: false,
  noRepeatNgramSize: 0,
  forcedBosTokenId: null,
  forcedEosTokenIds: [],
  badWordsIds: [],
  renormalizeLogits: false,
  decoderStartTokenId: 2,
  eosTokenIds: [0],
  padTokenId: 1,
};

const run = (ids: number[], s: Partial<GenerationSettings>) => {
  const x = Float64Array.from({ length: 6 }, (_, i) => i / 10);
  processScores(x, ids, { ...base, ...s });
  return [...x];
};

describe("logits processors", () => {
  test("no_repeat_ngram_size bans what would repeat an n-gram", () => {
    assert.deepEqual(run([2, 3, 4, 3], { noRepeatNgramSize: 2 }), [0, 0.1, 0.2, 0.3, -Infinity, 0.5]);
    assert.deepEqual(run([2, 3], { noRepeatNgramSize: 3 }), run([2, 3], {}));
  });
  test("bad_words_ids: single ids always, longer ones after their prefix; EOS alone never", () => {
    const s = { badWordsIds: [[5], [3, 4], [0]] };
    assert.deepEqual(run([2, 1], s), [0, 0.1, 0.2, 0.3, 0.4, -Infinity]);
    assert.deepEqual(run([2, 3], s), [0, 0.1, 0.2, 0.3, -Infinity, -Infinity]);
  });
  test("forced BOS at the first step, forced EOS at the last, renormalisation", () => {
    assert.deepEqual(run([2], { forcedBosTokenId: 4 }), [
      -Infinity,
      -Infinity,
      -Infinity,
      -Infinity,
      0,
      -Infinity,
    ]);
    assert.deepEqual(run([2, 3], { forcedBosTokenId: 4 }), run([2, 3], {}));
    assert.deepEqual(run(Array(9).fill(3), { forcedEosTokenIds: [0], renormalizeLogits: true }), [
      0,
      -Infinity,
      -Infinity,
      -Infinity,
      -Infinity,
      -Infinity,
    ]);
    const r = run([2, 3], { renormalizeLogits: true, badWordsIds: [[1]] });
    assert.equal(r[1], -Infinity);
    assert.ok(Math.abs(r.filter(Number.isFinite).reduce((a, v) => a + Math.exp(v), 0) - 1) < 1e-6);
  });
});

for (const name of seq2seqFolders) {
  test(`search behaviour: ${name}`, async () => {
    const model = await Seq2Seq.load(join(seq2seqRoot, name), { threads: 1 });
    try {
      const batches: number[] = [];
      const step = model.model.step.bind(model.model);
      model.model.step = (state: DecoderState, tokens: readonly (readonly number[])[]) => {
        batches.push(state.batch);
        return step(state, tokens);
      };
      const rows = [
        [5, 6, 7, 8, 9, 10, 11, 12, 13],
        [14, 15, 16, 17, 18],
        [20, 21, 22],
      ];
      const eos = model.defaults.eosTokenIds;
      const greedy = (await model.generate(rows, { maxNewTokens: 12, numBeams: 1 })).map((h) => h[0].ids);
      // a row that has emitted EOS is not decoded again
      batches.forEach((b, i) =>
        assert.equal(
          b,
          greedy.filter(
            (ids) => ids.length > i + 1 && !ids.slice(0, i + 1).some((t, j) => j > 0 && eos.includes(t)),
          ).length,
          `step ${i}`,
        ),
      );

      const noRepeat = await model.generate(rows, { maxNewTokens: 12, numBeams: 1, noRepeatNgramSize: 2 });
      for (const [h] of noRepeat) {
        const grams = h.ids.slice(1).map((t, i) => `${h.ids[i]},${t}`);
        assert.equal(new Set(grams).size, grams.length, `repeated bigram in ${h.ids}`);
      }

      batches.length = 0;
      const beams = await model.generate(rows, {
        maxNewTokens: 12,
        numBeams: 4,
        numReturnSequences: 4,
        earlyStopping: true,
      });
      assert.ok(
        batches.every((b, i) => b % 4 === 0 && (i === 0 || b <= batches[i - 1])),
        `${batches}`,
      );
      for (const hyps of beams) {
        assert.equal(hyps.length, 4);
        hyps.forEach((h, i) => i && assert.ok(h.score <= hyps[i - 1].score));
      }
    } finally {
      await model.release();
    }
  });
}
