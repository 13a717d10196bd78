// The model head for ColBERT(-XM) folders (colbert-ai HF_ColBERT: config.json, model.safetensors,
// artifact.metadata, tokenizer files), a late-interaction head (ModelHead.lateInteraction): each
// text becomes its token matrix, scored by MaxSim in the loss and in validation.
//
// What trains, ColBERT-XM's recipe (xm-retrievers' prepare_xmod_for_finetuning, i.e. transformers'
// XmodModel.freeze_embeddings_and_language_adapters): the projection `linear.weight` always, and
// the backbone's shared layers as --trainable says (full, last:N, lora on query/key/value, or
// `heads`: the projection only). For an X-MOD backbone the embeddings and every language adapter
// (and adapter_layer_norm) stay frozen: adapters are graph inputs fed from the checkpoint, never
// parameters, so they cannot move. A BERT / XLM-R backbone (plain colbert-ai) trains its embeddings
// under `full`, as colbert-ai does.
//
// Tokenization is ColbertModel's (encode/colbert.ts, current colbert-ai rule): queries padded with
// [MASK] to query_maxlen, documents cut at doc_maxlen, punctuation skiplist. Queries and documents
// share one forward pass, so every row is right-padded (attention 0) to the longest row; padding
// at the end changes no earlier token's vector (XLM-R positions count only non-pad ids before a
// token), and the padded positions count for nothing (their "counts" channel is 0).
//
// Adapter: one per batch (the graph takes one adapter's tensors). A text's `lang` picks it; texts
// without one (passages: the trainer gives languages to queries only) take the batch's language,
// else `language` (default: config default_language). A batch naming two adapters is refused: the
// paper trains on English only, and xm-retrievers encodes queries and documents with one adapter.
//
// Saving writes a folder ColbertModel.load reads: the source folder's files (config.json,
// artifact.metadata, tokenizer files) with model.safetensors holding the trained tensors (LoRA
// merged, and kept as a PEFT adapter in `adapter/`); the adapters are written back unchanged.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ColbertSpec,
  colbertSpec,
  documentRows,
  queryRows,
  readColbertMetadata,
  specialTokens,
} from "../encode/colbert.ts";
import { Checkpoint } from "../models/checkpoint.ts";
import { COLBERT_LINEAR, colbertDim, colbertGraph } from "../models/colbert.ts";
import { adapterFeeds } from "../models/xmod.ts";
import { resolveXmodLanguage } from "../models/xmod-langs.ts";
import type { Graph, TensorData } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import { checkTokenizerFits, loadTokenizer } from "../text/tokenizer.ts";
import { saveModelFolder } from "./encoder-head.ts";
import {
  dropoutMasks,
  type HeadText,
  inputDims,
  type ModelHead,
  selectTrainable,
  type TrainableSet,
} from "./model-head.ts";
import type { NamedArrays } from "./params.ts";

/** artifact.metadata's use_ib_negatives (colbert-ai's default false when absent). */
export function usesInBatchNegatives(dir: string): boolean {
  const file = join(dir, "artifact.metadata");
  if (!existsSync(file)) return false;
  return (JSON.parse(readFileSync(file, "utf8")) as { use_ib_negatives?: unknown }).use_ib_negatives === true;
}

export interface ColbertHeadOptions {
  trainable: TrainableSet;
  /** X-MOD: the adapter of texts that carry no language (any code the model resolves); default config default_language. */
  language?: string;
  /** Punctuation skiplist ids instead of the tokenizer's (as ColbertModel's option). */
  skiplist?: readonly number[];
  /** Seed of the LoRA A initialisation. */
  seed?: number;
}

const int64 = (dims: number[], values: number[]): TensorData => ({
  dtype: "int64",
  dims,
  data: BigInt64Array.from(values, BigInt),
});

/** The head, its token rules and the adapter texts without a language get (null: no X-MOD). */
export function colbertHead(
  dir: string,
  opts: ColbertHeadOptions,
): ModelHead & {
  spec: ColbertSpec;
  adapter: string | null;
  adapterOf(lang: string | undefined): string | null;
} {
  const ck = Checkpoint.open(dir);
  try {
    const cfg = ck.config;
    const meta = readColbertMetadata(dir);
    const dim = colbertDim(ck);
    if (dim !== meta.dim)
      throw new Error(
        `${dir}: artifact.metadata says dim ${meta.dim} but linear.weight projects to ${dim}; the files belong to different checkpoints`,
      );
    if (!existsSync(join(dir, "tokenizer.json")))
      throw new Error(`${dir}: training reads text; put the checkpoint's tokenizer.json in the folder`);
    const tok = loadTokenizer(dir);
    checkTokenizerFits(tok, cfg.vocabSize, dir);
    const spec = colbertSpec(
      meta,
      { tokenToId: (t) => tok.tokenToId(t), encodeText: (t) => tok.encodeText(t) },
      specialTokens(dir),
      { skiplist: opts.skiplist, source: dir },
    );
    if (Math.max(spec.queryMaxlen, spec.docMaxlen) > cfg.maxTokens)
      throw new Error(
        `${dir}: query_maxlen ${spec.queryMaxlen} / doc_maxlen ${spec.docMaxlen} exceed the model's ${cfg.maxTokens} positions; lower them in artifact.metadata`,
      );
    const xmod = cfg.xmod;
    const adapterOf = (lang: string | undefined): string | null => {
      if (!xmod) return null;
      if (lang !== undefined) return resolveXmodLanguage(lang, xmod.languages);
      if (xmod.defaultLanguage === null)
        throw new Error(
          `${dir}: config.json sets no default_language; give the pairs' language (--lang), one of ${xmod.languages.join(", ")}`,
        );
      return xmod.defaultLanguage;
    };
    const adapter = adapterOf(opts.language);

    const t = opts.trainable;
    const sel = selectTrainable(t, cfg, dir, opts.seed);
    const { lora, loraTensors, dropout: withDropout } = sel;
    // X-MOD's fine-tuning freezes the embeddings and adapters; the adapters are inputs anyway
    const frozen = (name: string) =>
      !!xmod && (name.startsWith("embeddings.") || name.includes(".adapter_layer_norm."));
    const trainable = (name: string) => name === COLBERT_LINEAR || (sel.trainable(name) && !frozen(name));
    const build = (dropout: boolean) => {
      const trainableData = new Map<string, Float32Array>();
      const g = colbertGraph(ck, dim, {
        train: { trainable, trainableData, lora: lora && { ...lora, dropout } },
      });
      // the tokens that count (query: every query position; document: the kept tokens)
      const counts = g.input("token_counts", "float32", ["batch", "seq"]);
      g.output(o.concat([g.value("vectors"), o.unsqueeze(counts, [2])], 2), "embedding");
      return { graph: g, trainableData };
    };
    const first = build(withDropout);
    let plain: Graph | undefined;
    const params: NamedArrays = Object.fromEntries(first.trainableData);
    const adapters = new Map<string, Record<string, TensorData>>();
    const adapterTensors = (lang: string) => {
      let a = adapters.get(lang);
      if (!a) adapters.set(lang, (a = adapterFeeds(ck, cfg, lang)));
      return a;
    };

    /** The one adapter of a batch: the language its texts name, else the head's. */
    const batchAdapter = (texts: readonly HeadText[]): string | null => {
      const named = [...new Set(texts.flatMap((x) => (x.lang === undefined ? [] : [adapterOf(x.lang)])))];
      if (named.length > 1)
        throw new Error(
          `a ColBERT-XM batch runs one language adapter, and this one has texts in ${named.join(", ")}; train on one language (ColBERT-XM's recipe: English only) and switch adapters at search time`,
        );
      return named[0] ?? adapter;
    };

    return {
      dim,
      spec,
      adapter,
      adapterOf,
      params,
      dims: inputDims(first.graph, Object.keys(params)),
      describe: `colbert ${t.kind === "last" ? `last:${t.layers}` : t.kind}${xmod ? ` (adapters frozen, ${adapter} for texts without a language)` : ""}`,
      dropout: withDropout,
      lateInteraction: true,
      graph: (dropout) => (dropout === withDropout ? first.graph : (plain ??= build(false).graph)),
      batch(texts, rng) {
        const lang = batchAdapter(texts);
        const isQuery = texts.map((x) => x.role === "query");
        const bodies = texts.map((x) => tok.encodeText(x.text));
        const pick = (q: boolean) => bodies.filter((_, i) => isQuery[i] === q);
        const qr = queryRows(pick(true), spec);
        const dr = documentRows(pick(false), spec);
        const rows = [...qr.inputIds, ...dr.inputIds];
        const seq = Math.max(0, ...rows.map((r) => r.length));
        const ids: number[] = [];
        const attention: number[] = [];
        const counts: number[] = [];
        let qi = 0;
        let di = 0;
        for (const q of isQuery) {
          const r = q ? qi++ : di++;
          const [id, att, count] = q
            ? [qr.inputIds[r], qr.attentionMask[r], qr.inputIds[r].map(() => 1)]
            : [dr.inputIds[r], dr.attentionMask[r], dr.keepMask[r]];
          for (let j = 0; j < seq; j++) {
            const inside = j < id.length;
            ids.push(inside ? id[j] : spec.padId);
            attention.push(inside ? att[j] : 0);
            counts.push(inside ? count[j] : 0);
          }
        }
        const n = texts.length;
        const feeds: Record<string, TensorData> = {
          input_ids: int64([n, seq], ids),
          attention_mask: int64([n, seq], attention),
          token_counts: { dtype: "float32", dims: [n, seq], data: Float32Array.from(counts) },
          ...(lang !== null && adapterTensors(lang)),
        };
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
          finish: () => {},
        });
      },
      close: () => ck.close(),
    };
  } catch (e) {
    ck.close();
    throw e;
  }
}
