// Batched greedy decoding with transformers' semantics: the argmax of the processed scores; a row
// that emits EOS is finished and leaves the batch (its cache rows are dropped), so finished rows
// cost nothing further.

import type { GenerationSettings } from "./generation-config.ts";
import type { Hypothesis } from "./hypothesis.ts";
import { logSumExp, processScores } from "./processors.ts";
import { type DecoderState, type Seq2SeqModel, selectState } from "./seq2seq-model.ts";

export async function greedySearch(
  model: Seq2SeqModel,
  start: DecoderState,
  s: GenerationSettings,
): Promise<Hypothesis[]> {
  const n = start.batch;
  const ids = Array.from({ length: n }, () => [s.decoderStartTokenId]);
  const tokenScores: number[][] = Array.from({ length: n }, () => []);
  const logprobs = new Array<number>(n).fill(0);
  let active = [...Array(n).keys()];
  let state = start;
  const V = model.vocabSize;
  const x = new Float64Array(V);
  while (active.length && ids[active[0]].length < s.maxLength) {
    const { logits, state: next } = await model.step(
      state,
      active.map((r) => [ids[r].at(-1)!]),
    );
    const keep: number[] = [];
    active.forEach((r, j) => {
      x.set(logits.data.subarray(j * V, (j + 1) * V));
      processScores(x, ids[r], s);
      let best = 0;
      for (let i = 1; i < V; i++) if (x[i] > x[best]) best = i;
      ids[r].push(best);
      tokenScores[r].push(x[best]);
      // only the chosen token's log-probability is needed: no log_softmax of the whole row
      logprobs[r] += Math.fround(x[best] - logSumExp(x));
      if (!s.eosTokenIds.includes(best)) keep.push(j);
    });
    state = keep.length === active.length ? next : selectState(next, keep);
    active = keep.map((j) => active[j]);
  }
  return ids.map((row, r) => {
    const generatedLen = row.length - 1;
    return {
      ids: row,
      sumLogprobs: logprobs[r],
      generatedLen,
      score: generatedLen ? logprobs[r] / generatedLen ** s.lengthPenalty : 0,
      tokenScores: tokenScores[r],
    };
  });
}
