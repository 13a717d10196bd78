// transformers' logits processors for one row, in generate's order: no_repeat_ngram_size,
// bad_words_ids, forced BOS, forced EOS, then renormalize_logits. Scores are float32 values held
// in a Float64Array and rounded back after each change, as the float32 tensors of the reference are.

import type { GenerationSettings } from "./generation-config.ts";

/** log(sum(exp(x))), stable. log_softmax(x)[i] is fround(x[i] - logSumExp(x)). */
export function logSumExp(x: Float64Array): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  return max + Math.log(sum);
}

/** log_softmax in place (−∞ entries stay −∞), each result rounded to float32. */
export function logSoftmaxInPlace(x: Float64Array): void {
  const lse = logSumExp(x);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] - lse);
}

/** Everything −∞ but `keep`, which become 0. */
function force(x: Float64Array, keep: readonly number[]): void {
  x.fill(-Infinity);
  for (const k of keep) x[k] = 0;
}

/** Tokens that would repeat an n-gram of `ids` (the decoder start token included). */
function repeatedNgramTokens(ids: readonly number[], n: number): number[] {
  const len = ids.length;
  if (n <= 0 || len + 1 < n) return [];
  const out: number[] = [];
  const prefix = ids.slice(len + 1 - n);
  for (let i = 0; i + n <= len; i++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = ids[i + j] === prefix[j];
    if (same) out.push(ids[i + n - 1]);
  }
  return out;
}

/**
 * Applies the processors to `x` (the scores of the next token after `ids`, which holds every id so
 * far, start token included) in place.
 */
export function processScores(x: Float64Array, ids: readonly number[], s: GenerationSettings): void {
  const curLen = ids.length;
  for (const t of repeatedNgramTokens(ids, s.noRepeatNgramSize)) x[t] = -Infinity;
  for (const word of s.badWordsIds) {
    if (word.length === 1 && s.eosTokenIds.includes(word[0])) continue; // transformers never bans EOS alone
    const head = word.slice(0, -1);
    const tail = ids.slice(ids.length - head.length);
    if (head.length <= ids.length && head.every((t, i) => tail[i] === t))
      x[word[word.length - 1]] = -Infinity;
  }
  if (s.forcedBosTokenId !== null && curLen === 1) force(x, [s.forcedBosTokenId]);
  if (s.forcedEosTokenIds.length && curLen === s.maxLength - 1) force(x, s.forcedEosTokenIds);
  if (s.renormalizeLogits) logSoftmaxInPlace(x);
}
