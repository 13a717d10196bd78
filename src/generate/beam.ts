// Batched beam search with the semantics of transformers' (4.40) beam search: per step
// log_softmax, the processors, plus the beam's running float32 score; the top 2·numBeams
// candidates of a row, walked in order, either finish a hypothesis (an EOS ranked inside the
// top numBeams) or continue as a beam until numBeams beams are filled. A row stops when its
// hypotheses cannot improve (early_stopping) and then leaves the batch with its cache rows; the
// cache of the others is reordered by beam index.

import type { GenerationSettings } from "./generation-config.ts";
import type { Hypothesis } from "./hypothesis.ts";
import { logSoftmaxInPlace, processScores } from "./processors.ts";
import { type DecoderState, type Seq2SeqModel, selectState } from "./seq2seq-model.ts";

interface Kept {
  score: number;
  ids: number[];
  sumLogprobs: number;
  generatedLen: number;
  finished: boolean;
}

/** transformers' BeamHypotheses: the best `n` hypotheses of one input row. */
class Hypotheses {
  readonly kept: Kept[] = [];
  private worst = 1e9;
  constructor(
    private readonly n: number,
    private readonly s: GenerationSettings,
  ) {}

  add(ids: number[], sumLogprobs: number, generatedLen: number, finished: boolean): void {
    const score = sumLogprobs / generatedLen ** this.s.lengthPenalty;
    if (this.kept.length >= this.n && !(score > this.worst)) return;
    this.kept.push({ score, ids, sumLogprobs, generatedLen, finished });
    if (this.kept.length > this.n) {
      const order = this.kept.map((k, i) => [k.score, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      this.kept.splice(order[0][1], 1);
      this.worst = order[1][0];
    } else this.worst = Math.min(score, this.worst);
  }

  /** Whether no later hypothesis can enter, given this step's best running score. */
  done(best: number, curLen: number): boolean {
    if (this.kept.length < this.n) return false;
    const s = this.s;
    if (s.earlyStopping === true) return true;
    const len = s.earlyStopping === "never" && s.lengthPenalty > 0 ? s.maxLength - 1 : curLen - 1;
    return this.worst >= best / len ** s.lengthPenalty;
  }

  /** Best first; among equal scores the later one first, as Python's sorted-then-pop does. */
  best(k: number): Kept[] {
    const order = this.kept.map((h, i) => [h.score, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return order
      .reverse()
      .slice(0, k)
      .map(([, i]) => this.kept[i]);
  }
}

/** The `k` best (score, flat index) pairs, highest first, lower index first among equals. */
class TopK {
  readonly scores: number[] = [];
  readonly index: number[] = [];
  constructor(private readonly k: number) {}
  offer(score: number, index: number): void {
    const n = this.scores.length;
    if (n === this.k && !(score > this.scores[n - 1])) return;
    let at = n;
    while (at > 0 && score > this.scores[at - 1]) at--;
    this.scores.splice(at, 0, score);
    this.index.splice(at, 0, index);
    if (this.scores.length > this.k) {
      this.scores.pop();
      this.index.pop();
    }
  }
}

export async function beamSearch(
  model: Seq2SeqModel,
  start: DecoderState,
  s: GenerationSettings,
): Promise<Hypothesis[][]> {
  const nb = s.numBeams;
  const V = model.vocabSize;
  const hyps = Array.from({ length: start.batch }, () => new Hypotheses(nb, s));
  let active = [...Array(start.batch).keys()];
  let seqs = active.flatMap(() => Array.from({ length: nb }, () => [s.decoderStartTokenId]));
  // only beam 0 is expanded at the first step: the others start at -1e9
  let beamScores: number[] = active.flatMap(() => Array.from({ length: nb }, (_, k) => (k === 0 ? 0 : -1e9)));
  let state = selectState(
    start,
    active.flatMap((r) => Array<number>(nb).fill(r)),
  );
  const x = new Float64Array(V);
  // enough candidates that numBeams of them are not EOS, whatever the EOS ranks
  const keep = Math.max(2, 1 + s.eosTokenIds.length) * nb;
  while (active.length) {
    const { logits, state: next } = await model.step(
      state,
      seqs.map((q) => [q.at(-1)!]),
    );
    const curLen = seqs[0].length + 1;
    const nextActive: number[] = [];
    const nextSeqs: number[][] = [];
    const nextScores: number[] = [];
    const sources: number[] = [];
    active.forEach((r, a) => {
      const top = new TopK(keep);
      for (let k = 0; k < nb; k++) {
        const j = a * nb + k;
        x.set(logits.data.subarray(j * V, (j + 1) * V));
        logSoftmaxInPlace(x);
        processScores(x, seqs[j], s);
        for (let i = 0; i < V; i++) top.offer(Math.fround(x[i] + beamScores[j]), k * V + i);
      }
      const beams: { ids: number[]; score: number; source: number }[] = [];
      for (let rank = 0; rank < top.scores.length && beams.length < nb; rank++) {
        const j = a * nb + Math.floor(top.index[rank] / V);
        const token = top.index[rank] % V;
        if (s.eosTokenIds.includes(token)) {
          if (rank < nb) hyps[r].add(seqs[j], top.scores[rank], curLen - 1, true);
        } else beams.push({ ids: [...seqs[j], token], score: top.scores[rank], source: j });
      }
      if (hyps[r].done(top.scores[0], curLen)) return;
      nextActive.push(r);
      for (const b of beams) {
        nextSeqs.push(b.ids);
        nextScores.push(b.score);
        sources.push(b.source);
      }
    });
    // beams only move within their input, so the cross-attention side changes only when rows leave
    const sameRows = nextActive.length === active.length;
    active = nextActive;
    seqs = nextSeqs;
    beamScores = nextScores;
    if (curLen >= s.maxLength) break;
    if (active.length) state = selectState(next, sources, sameRows);
  }
  // rows cut off by maxLength: their running beams compete as unfinished hypotheses
  active.forEach((r, a) => {
    for (let k = 0; k < nb; k++)
      hyps[r].add(seqs[a * nb + k], beamScores[a * nb + k], seqs[a * nb + k].length - 1, false);
  });
  return hyps.map((h) =>
    h.best(s.numReturnSequences).map((k) => ({
      ids: k.finished ? [...k.ids, s.eosTokenIds[0]] : k.ids,
      score: Math.fround(k.score),
      sumLogprobs: k.sumLogprobs,
      generatedLen: k.generatedLen,
    })),
  );
}
