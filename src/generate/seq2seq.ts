// The translation-model API on token ids: `Seq2Seq.load(dir)` opens an M2M100/NLLB or Marian
// (opus-mt) folder with its generation_config.json defaults; `encode` gives the encoder output,
// `generate` decodes greedily or by beam search. Tokenization is the caller's.

import {
  readGenerationSettings,
  resolveSettings,
  type GenerateOptions,
  type GenerationSettings,
} from "./generation-config.ts";
import { beamSearch } from "./beam.ts";
import { greedySearch } from "./greedy.ts";
import type { Hypothesis } from "./hypothesis.ts";
import { Seq2SeqModel, type Seq2SeqSessionOptions, type Tensor, padRows } from "./seq2seq-model.ts";

export class Seq2Seq {
  private constructor(
    readonly model: Seq2SeqModel,
    /** The folder's generation defaults (generation_config.json). */
    readonly defaults: GenerationSettings,
  ) {}

  static async load(dir: string, opts: Seq2SeqSessionOptions = {}): Promise<Seq2Seq> {
    const model = await Seq2SeqModel.load(dir, opts);
    try {
      return new Seq2Seq(model, readGenerationSettings(dir, model.config));
    } catch (e) {
      await model.release();
      throw e;
    }
  }

  /** Encoder last_hidden_state [rows, longest, d] of source rows (right-padded with pad). */
  async encode(rows: readonly (readonly number[])[]): Promise<Tensor> {
    const { ids, mask } = this.pad(rows);
    return (await this.model.encode(ids, mask, rows.length)).hidden;
  }

  /**
   * Translates source rows (ids as the model's tokenizer gives them, e.g. NLLB's
   * `[src_lang, ..., </s>]`); per row, the hypotheses best first (one for greedy,
   * numReturnSequences for beam search).
   */
  async generate(rows: readonly (readonly number[])[], opts: GenerateOptions = {}): Promise<Hypothesis[][]> {
    const s = resolveSettings(this.defaults, opts);
    if (rows.length === 0) return [];
    const { ids, mask } = this.pad(rows);
    const { state } = await this.model.encode(ids, mask, rows.length);
    if (s.numBeams === 1) return (await greedySearch(this.model, state, s)).map((h) => [h]);
    return beamSearch(this.model, state, s);
  }

  private pad(rows: readonly (readonly number[])[]) {
    const vocab = this.model.config.vocabSize;
    rows.forEach((r, i) => {
      if (r.length === 0) throw new Error(`generate: source row ${i} is empty`);
      const bad = r.find((t) => !Number.isSafeInteger(t) || t < 0 || t >= vocab);
      if (bad !== undefined)
        throw new Error(`generate: source row ${i} has id ${bad}, outside the vocabulary (0..${vocab - 1})`);
    });
    return padRows(rows, this.model.config.padTokenId ?? this.defaults.padTokenId);
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}
