// Parity of the seq2seq graphs with transformers on every fixture model under <fixtures>/seq2seq:
// encoder output and teacher-forced decoder output/logits within the README's tolerances, and
// step-by-step decoding through the key/value cache giving the logits of the uncached pass.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Seq2SeqModel, type Tensor } from "../../src/generate/seq2seq-model.ts";
import { maxAbsDiff, readCases, seq2seqFolders, seq2seqRoot } from "../helpers/seq2seq-fixtures.ts";

const TOL = { encoder: 2e-5, decoderHidden: 5e-5, logits: 1e-4, cached: 5e-5 };

const ids = (rows: number[][]) => BigInt64Array.from(rows.flat(), (v) => BigInt(v));

test("the fixtures root holds seq2seq model folders", () =>
  assert.ok(seq2seqFolders.length > 0, `no */cases.json under ${seq2seqRoot}`));

/** Row b, position t of [batch, len, V] logits. */
const at = (t: Tensor, b: number, pos: number) => {
  const [, len, v] = t.dims;
  return t.data.subarray((b * len + pos) * v, (b * len + pos + 1) * v);
};

for (const name of seq2seqFolders) {
  test(`seq2seq parity: ${name}`, async () => {
    const ref = readCases(name);
    const model = await Seq2SeqModel.load(join(seq2seqRoot, name), { threads: 1 });
    try {
      const enc = ref.encoder;
      const batch = enc.input_ids.length;
      const { hidden, state } = await model.encode(ids(enc.input_ids), ids(enc.attention_mask), batch);
      const e = maxAbsDiff(hidden.data, enc.last_hidden_state);
      assert.ok(e <= TOL.encoder, `encoder last_hidden_state max |diff| ${e}`);

      const tf = ref.teacher_forced;
      assert.deepEqual(tf.input_ids, enc.input_ids);
      const full = await model.step(state, tf.decoder_input_ids);
      const h = maxAbsDiff(full.hidden.data, tf.decoder_last_hidden_state);
      assert.ok(h <= TOL.decoderHidden, `decoder_last_hidden_state max |diff| ${h}`);
      const l = maxAbsDiff(full.logits.data, tf.logits);
      assert.ok(l <= TOL.logits, `teacher-forced logits max |diff| ${l}`);

      // one token at a time through the cache, then a split of 3 + the rest in one step
      const T = tf.decoder_input_ids[0].length;
      let s = state;
      for (let t = 0; t < T; t++) {
        const step = await model.step(
          s,
          tf.decoder_input_ids.map((r: number[]) => [r[t]]),
        );
        s = step.state;
        for (let b = 0; b < batch; b++) {
          const c = maxAbsDiff(at(step.logits, b, 0), at(full.logits, b, t));
          assert.ok(c <= TOL.cached, `cached logits row ${b} step ${t}: max |diff| ${c}`);
        }
      }
      assert.deepEqual(s.past[0].key.dims.slice(2, 3), [T]);
      const head = await model.step(
        state,
        tf.decoder_input_ids.map((r: number[]) => r.slice(0, 3)),
      );
      const rest = await model.step(
        head.state,
        tf.decoder_input_ids.map((r: number[]) => r.slice(3)),
      );
      for (let b = 0; b < batch; b++)
        for (let t = 3; t < T; t++) {
          const c = maxAbsDiff(at(rest.logits, b, t - 3), at(full.logits, b, t));
          assert.ok(c <= TOL.cached, `chunked cached logits row ${b} pos ${t}: max |diff| ${c}`);
        }
    } finally {
      await model.release();
    }
  });
}
