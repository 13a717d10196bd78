// What a search returns per input row.

export interface Hypothesis {
  /** Decoder start token, generated ids, and the EOS when the hypothesis finished (no padding). */
  ids: number[];
  /** Length-normalised log-probability: sumLogprobs / generatedLen^lengthPenalty (beam search's sequences_scores). */
  score: number;
  sumLogprobs: number;
  /** Ids after the start token, EOS included. */
  generatedLen: number;
  /** Greedy only: the processed score of each chosen id (transformers' `scores`), 0 at forced steps. */
  tokenScores?: number[];
}
