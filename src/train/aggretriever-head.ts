// The model head for Aggretriever folders (models/aggretriever-folder.ts): the [CLS] projection and
// the term-weight head always train; the masked LM trains fully, in its last N layers, through LoRA
// on query/key/value, or not at all (`heads`). The graph builds the lexical vector and agg* inside
// it (models/aggretriever.ts) so gradients reach everything that trains. The trained model is
// written in the same folder layout (LoRA merged, and kept as a PEFT adapter in `adapter/`), with
// the lexical mode it was trained in as its default. A plain masked LM starts with fresh heads
// (`init`, models/aggretriever-folder.ts).
//
// Memory: in mlm mode the graph holds [rows, seq, vocabulary] softmax probabilities and their
// gradients (250k wide for XLM-R); bound it with GradCache (--grad-cache ROWS), or train in self
// mode, which needs no MLM head at all.

import { encoderFeeds, tokenizeTexts } from "../encode/encoder.ts";
import { aggSettings } from "../encode/aggretriever.ts";
import { type AggMode, aggGraph, POOLER, selfSlots, TERM_WEIGHT } from "../models/aggretriever.ts";
import {
  type AggInit,
  headSource,
  isAggretrieverFolder,
  openAggretriever,
  writeAggretrieverHeads,
} from "../models/aggretriever-folder.ts";
import type { Graph } from "../tensor/graph.ts";
import { loadTokenizer } from "../text/tokenizer.ts";
import type { Tensor } from "../weights/safetensors.ts";
import { saveModelFolder } from "./encoder-head.ts";
import { dropoutMasks, inputDims, type ModelHead, selectTrainable, type TrainableSet } from "./model-head.ts";
import type { NamedArrays } from "./params.ts";

export interface AggHeadOptions {
  trainable: TrainableSet;
  /** Lexical prediction while training (default: the folder's agg_mode). */
  mode?: AggMode;
  /** target mode: the training language's token ids (xlir agg-vocab). */
  vocabIds?: readonly number[];
  /** Lowercase the texts (default: the folder's). */
  lowercase?: boolean;
  maxLength?: number;
  /** Seed of the LoRA A initialisation. */
  seed?: number;
  /** self mode: padding writes into v[<pad>] as in the reference code (parity checks only). */
  selfPadding?: boolean;
  /** A plain masked LM: the fresh heads' sizes (ignored for an Aggretriever folder). */
  init?: AggInit;
}

/** The head, the width of the vectors' semantic part (where the loss splits them), the mode it trains in, and its tokenizer and casing (what a token set must match). */
export function aggretrieverHead(
  dir: string,
  o: AggHeadOptions,
): ModelHead & { semanticDim: number; mode: AggMode; tokenizer: string; lowercase: boolean } {
  const fresh = !isAggretrieverFolder(dir);
  const folder = openAggretriever(dir, o.init ?? {});
  try {
    const { ck, spec } = folder;
    const cfg = ck.config;
    const mode = o.mode ?? folder.defaults.mode;
    if (mode === "target" && !o.vocabIds?.length)
      throw new Error(
        "--agg-mode target: training needs the training language's token set (--agg-vocab FILE from xlir agg-vocab)",
      );
    const outside = o.vocabIds?.find((id) => !Number.isInteger(id) || id < 0 || id >= cfg.vocabSize);
    if (outside !== undefined)
      throw new Error(
        `--agg-vocab: token id ${outside} is not one of this model's (0..${cfg.vocabSize - 1}); make the token set with xlir agg-vocab --model for this model`,
      );
    const t = o.trainable;
    const sel = selectTrainable(t, cfg, dir, o.seed);
    const { lora, loraTensors, dropout: withDropout } = sel;
    const isHead = (name: string) => name.startsWith(`${POOLER}.`) || name.startsWith(`${TERM_WEIGHT}.`);
    const trainable = (name: string) => isHead(name) || sel.trainable(name);
    const lexical = { mode, vocabIds: o.vocabIds, selfPadding: o.selfPadding };
    const build = (dropout: boolean) => {
      const trainableData = new Map<string, Float32Array>();
      const graph = aggGraph(ck, headSource(folder.heads), {
        spec,
        lexical,
        train: { trainable, trainableData, lora: lora && { ...lora, dropout } },
      });
      return { graph, trainableData };
    };
    const first = build(withDropout);
    let plain: Graph | undefined;
    const params: NamedArrays = Object.fromEntries(first.trainableData);
    const tok = loadTokenizer(dir);
    const settings = aggSettings(folder, tok, o.lowercase);
    const maxLength = Math.min(o.maxLength ?? settings.maxLength, settings.maxLength);

    return {
      dim: spec.semanticDim + spec.aggDim,
      semanticDim: spec.semanticDim,
      mode,
      tokenizer: tok.fingerprint,
      lowercase: settings.lowerCase,
      params,
      dims: inputDims(first.graph, Object.keys(params)),
      describe: `aggretriever ${mode}, ${t.kind === "last" ? `last:${t.layers}` : t.kind}${fresh ? ", fresh heads" : ""}`,
      dropout: withDropout,
      graph: (dropout) => (dropout === withDropout ? first.graph : (plain ??= build(false).graph)),
      batch(texts, rng) {
        const rows = tokenizeTexts(
          tok,
          settings,
          false,
          texts.map((x) => x.text),
          { maxLength },
        ).rows;
        const feeds = encoderFeeds(rows, tok.padId, false);
        const [n, seq] = feeds.input_ids.dims;
        if (mode === "self") {
          const s = selfSlots(rows, seq, cfg.vocabSize, spec, tok.padId);
          for (const [name, data] of Object.entries(s))
            feeds[name] = { dtype: "float32", dims: [n, seq - 1, spec.aggDim], data };
        }
        if (rng && lora) Object.assign(feeds, dropoutMasks(first.graph, n, seq, lora.spec.dropout, rng));
        return feeds;
      },
      save(out, values) {
        saveModelFolder(out, {
          dir,
          modelDir: dir,
          id: dir,
          values,
          ck,
          lora,
          loraTensors,
          finish: (tmp) => {
            const heads = new Map<string, Tensor>();
            for (const [name, x] of folder.heads)
              heads.set(name, { data: values[name] ?? x.data, dims: x.dims });
            // the mode it was trained in is the mode it is meant to run in
            writeAggretrieverHeads(tmp, heads, spec, { mode, lowercase: settings.lowerCase });
          },
        });
      },
      close: () => folder.close(),
    };
  } catch (e) {
    folder.close();
    throw e;
  }
}
