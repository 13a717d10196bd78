// Aggretriever inference: token batches in, [s ; agg*(v)] rows out (models/aggretriever.ts has the
// formulas). One session gives the [CLS] projection, the term weights and (mlm / target) the MLM
// head's hidden states; the lexical vector is then built per row in chunks of positions, so the
// largest tensor is [positions, vocabulary] for a bounded number of positions, never
// [batch, seq, 250k]; the max over positions is taken chunk by chunk, which is exact.
//
// One choice differs from the reference code, so that a text's vector does not depend on the batch
// it is encoded in: the max over positions always includes a 0 (`floor`), as it does in the
// reference for every row that has padding (all rows but the longest), and self prediction skips
// padding positions (the fixture's `self_masked`). Both are options, for parity checks.

import { aggregate } from "../models/agg-star.ts";
import { type AggMode, aggGraph, lexicalGraph } from "../models/aggretriever.ts";
import { mlmHead } from "../models/bert.ts";
import { headSource, type LoadedAggretriever } from "../models/aggretriever-folder.ts";
import { fuseForInference } from "../tensor/fuse.ts";
import type { Graph, TensorData } from "../tensor/graph.ts";
import type { Session } from "../tensor/session.ts";
import type { TextTokenizer } from "../text/tokenizer.ts";
import type { EncoderSettings } from "./conventions.ts";

export interface AggOptions {
  /** Lexical prediction (default: the folder's agg_mode). */
  mode?: AggMode;
  /** Lowercase every text first (default: the folder's, true when it says nothing). */
  lowercase?: boolean;
  /** target mode: the token ids of a language's set, by the language the text is read in. */
  vocab?: (lang: string) => readonly number[] | undefined;
  /** Include 0 in the max over positions (default true; false = the reference's exact behaviour). */
  floor?: boolean;
  /** self mode: let padding write into v[<pad>] as the reference does (default false). */
  selfPadding?: boolean;
}

/** The conventions of an Aggretriever folder: no prefixes, raw dot-product vectors, lowercased text by default. */
export function aggSettings(
  folder: LoadedAggretriever,
  tok: TextTokenizer,
  lowercase?: boolean,
): EncoderSettings {
  return {
    pooling: "cls",
    normalize: false,
    dense: [],
    prompts: { query: "", passage: "" },
    promptSource: "none",
    maxLength: Math.min(folder.ck.config.maxTokens, tok.modelMaxLength ?? Infinity),
    lowerCase: lowercase ?? folder.defaults.lowercase,
  };
}

/** Whose token set encodes a query in target mode: its own language's, the documents', or English's. */
export type AggTarget = "query" | "corpus" | "en";

/** Aggretriever options as a command gives them (--agg-mode, --lowercase, --agg-vocab, --agg-target). */
export interface AggFlags {
  aggMode?: AggMode;
  lowercase?: boolean;
  aggVocab?: string[];
  aggTarget?: string;
}

/** Refuses Aggretriever options for `what` (a model or collection) when it is not an Aggretriever one. */
export function checkAggApplies(isAgg: boolean, o: AggFlags, what: string): void {
  const given: [string, unknown][] = [
    ["--agg-mode", o.aggMode],
    [o.lowercase === false ? "--no-lowercase" : "--lowercase", o.lowercase],
    ["--agg-vocab", o.aggVocab],
    ["--agg-target", o.aggTarget],
  ];
  const flags = given.filter(([, v]) => v !== undefined).map(([f]) => f);
  if (isAgg || flags.length === 0) return;
  const one = flags.length === 1;
  throw new Error(
    `${flags.join(", ")} appl${one ? "ies" : "y"} to Aggretriever model folders only: ${what} is not one; leave ${one ? "it" : "them"} out`,
  );
}

/**
 * Elements of the largest [positions, vocabulary] block one lexical run may hold: 134 positions of
 * XLM-R's 250k vocabulary (~0.4 GB of logits and probabilities), so a 128-token passage is one run.
 * Each run reads the whole vocabulary matrix; runs of 16 positions were 2.2x slower (bench:agg).
 */
const BLOCK = 32 << 20;

/** What one batch gives (rows of each, row-major). */
export interface AggOutputs {
  semantic: Float32Array;
  termWeights: Float32Array;
  lexical: Float32Array;
  agg: Float32Array;
  final: Float32Array;
}

export class AggRunner {
  private readonly subsets = new Map<
    string,
    { weight: Float32Array; bias: Float32Array; ids: readonly number[] }
  >();

  private constructor(
    private readonly folder: LoadedAggretriever,
    readonly mode: AggMode,
    private readonly opts: AggOptions,
    private readonly parts: Session,
    private readonly lexical: Session | null,
    /** mlm / target: the word embeddings (= the vocabulary projection), fed to both sessions. */
    private readonly vocab: { name: string; words: Float32Array; bias: Float32Array } | null,
  ) {}

  /** `open` makes a session of a graph (the Encoder's threads, device and dtype). */
  static async create(
    folder: LoadedAggretriever,
    opts: AggOptions,
    open: (g: Graph) => Promise<Session>,
  ): Promise<AggRunner> {
    const mode = opts.mode ?? folder.defaults.mode;
    const { ck } = folder;
    const names = mlmHead(ck.config);
    // mlm / target: the word embeddings enter as an input fed from one array, which the lexical
    // runs read as their vocabulary, so ONNX Runtime keeps no second copy; self needs them only
    // for the lookup and leaves them to ONNX Runtime
    const trainableData = new Map<string, Float32Array>();
    const lexical = mode !== "self";
    const graph = aggGraph(ck, headSource(folder.heads), {
      spec: folder.spec,
      lmHidden: lexical,
      train: lexical ? { trainable: (n) => n === names.words, trainableData } : undefined,
    });
    const parts = await open(fuseForInference(graph));
    if (!lexical) return new AggRunner(folder, mode, opts, parts, null, null);
    const vocab = {
      name: names.words,
      words: trainableData.get(names.words)!,
      bias: ck.read(names.bias, [ck.config.vocabSize]).data,
    };
    return new AggRunner(folder, mode, opts, parts, await open(lexicalGraph(ck.config.hidden)), vocab);
  }

  get dim(): number {
    return this.folder.spec.semanticDim + this.folder.spec.aggDim;
  }

  /** Final vectors [rows, dim] for a batch's feeds; `langs` (one per row) pick target token sets. */
  async embed(feeds: Record<string, TensorData>, langs: readonly string[]): Promise<Float32Array> {
    return (await this.forward(feeds, langs)).final;
  }

  async forward(feeds: Record<string, TensorData>, langs: readonly string[]): Promise<AggOutputs> {
    const { spec, ck } = this.folder;
    const V = ck.config.vocabSize;
    const H = ck.config.hidden;
    const [B, L] = feeds.input_ids.dims;
    const out = await this.parts.run(
      {
        input_ids: feeds.input_ids,
        attention_mask: feeds.attention_mask,
        ...(this.vocab && { [this.vocab.name]: tensor(this.vocab.words, [V, H]) }),
      },
      ["semantic", "term_weights", ...(this.lexical ? ["lm_hidden"] : [])],
    );
    const w = out.term_weights.data as Float32Array;
    const ids = feeds.input_ids.data as BigInt64Array;
    const mask = feeds.attention_mask.data as BigInt64Array;
    const floor = this.opts.floor ?? true;
    const lexical = new Float32Array(B * V);
    for (let b = 0; b < B; b++) {
      const v = lexical.subarray(b * V, (b + 1) * V);
      const wm = new Float32Array(L - 1);
      for (let i = 1; i < L; i++) wm[i - 1] = mask[b * L + i] ? w[b * (L - 1) + i - 1] : 0;
      if (!this.lexical) {
        // self prediction: v[t] = max(0, max w_i over positions holding t)
        for (let i = 1; i < L; i++) {
          if (!mask[b * L + i] && !this.opts.selfPadding) continue;
          const t = Number(ids[b * L + i]);
          const x = w[b * (L - 1) + i - 1];
          if (x > v[t]) v[t] = x;
        }
        continue;
      }
      const vocab = this.mode === "target" ? this.subset(langs[b]) : null;
      const n = vocab ? vocab.ids.length : V;
      const rowV = await this.lexicalRow(
        (out.lm_hidden.data as Float32Array).subarray(b * (L - 1) * H, (b + 1) * (L - 1) * H),
        wm,
        vocab ?? { weight: this.vocab!.words, bias: this.vocab!.bias },
        n,
        floor,
      );
      if (vocab) vocab.ids.forEach((t, k) => (v[t] = rowV[k]));
      else v.set(rowV);
    }
    const d = spec.aggDim;
    const Ds = spec.semanticDim;
    const agg = new Float32Array(B * d);
    const final = new Float32Array(B * (Ds + d));
    const s = out.semantic.data as Float32Array;
    for (let b = 0; b < B; b++) {
      const a = aggregate(lexical.subarray(b * V, (b + 1) * V), d, spec.algorithm);
      agg.set(a, b * d);
      final.set(s.subarray(b * Ds, (b + 1) * Ds), b * (Ds + d));
      final.set(a, b * (Ds + d) + Ds);
    }
    return { semantic: s, termWeights: w, lexical, agg, final };
  }

  /** max over the row's positions of softmax(logits) × weight, in blocks of positions. */
  private async lexicalRow(
    hidden: Float32Array,
    wm: Float32Array,
    vocab: { weight: Float32Array; bias: Float32Array },
    n: number,
    floor: boolean,
  ): Promise<Float32Array> {
    const H = this.folder.ck.config.hidden;
    // with the floor, a position of weight <= 0 can never lift an entry above it: skip it
    let keep = [...wm.keys()];
    if (floor) keep = keep.filter((i) => wm[i] > 0);
    const acc = new Float32Array(n).fill(floor ? 0 : -Infinity);
    const step = Math.max(1, Math.floor(BLOCK / n));
    for (let start = 0; start < keep.length; start += step) {
      const at = keep.slice(start, start + step);
      const x = new Float32Array(at.length * H);
      at.forEach((i, k) => x.set(hidden.subarray(i * H, (i + 1) * H), k * H));
      const r = await this.lexical!.run({
        lm_hidden: tensor(x, [at.length, H]),
        weights: tensor(
          Float32Array.from(at, (i) => wm[i]),
          [at.length],
        ),
        vocab_weight: tensor(vocab.weight, [n, H]),
        vocab_bias: tensor(vocab.bias, [n]),
      });
      const v = r.lexical.data as Float32Array;
      for (let t = 0; t < n; t++) if (v[t] > acc[t]) acc[t] = v[t];
    }
    return acc;
  }

  /** A language's token subset of the vocabulary projection (gathered once per language). */
  private subset(lang: string) {
    let s = this.subsets.get(lang);
    if (s) return s;
    const ids = this.opts.vocab?.(lang);
    if (!ids?.length)
      throw new Error(
        `--agg-mode target: no token set for language ${lang}; make one with xlir agg-vocab --lang ${lang} and give it to the collection (or use --agg-mode mlm or self)`,
      );
    const { ck } = this.folder;
    const H = ck.config.hidden;
    const bad = ids.find((t) => !Number.isInteger(t) || t < 0 || t >= ck.config.vocabSize);
    if (bad !== undefined)
      throw new Error(
        `the token set of ${lang} holds ${bad}, not a token id of this model (0..${ck.config.vocabSize - 1}); make it again with xlir agg-vocab --model for this model`,
      );
    const weight = new Float32Array(ids.length * H);
    const b = new Float32Array(ids.length);
    ids.forEach((t, k) => {
      weight.set(this.vocab!.words.subarray(t * H, (t + 1) * H), k * H);
      b[k] = this.vocab!.bias[t];
    });
    s = { weight, bias: b, ids };
    this.subsets.set(lang, s);
    return s;
  }

  async release(): Promise<void> {
    await this.parts.release();
    await this.lexical?.release();
  }
}

const tensor = (data: Float32Array, dims: number[]): TensorData => ({ dtype: "float32", dims, data });
