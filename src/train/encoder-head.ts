// The model head for plain encoder checkpoints (BERT / E5, XLM-R / multilingual-E5,
// sentence-transformers folders): the Encoder's own conventions (prefixes, pooling, Dense layers,
// max length) with the chosen weights as graph inputs. The trained model is written as a
// sentence-transformers folder (so its pooling, normalisation and prefixes travel with it) that
// `xlir embed`, `index` and `eval run` load like any model id; LoRA is merged into the weights and
// also kept as a PEFT adapter in `adapter/`.

import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { encoderFeeds, type EncoderOptions, prepareEncoder, tokenizeTexts } from "../encode/encoder.ts";
import type { EncoderSettings } from "../encode/conventions.ts";
import type { Checkpoint } from "../models/checkpoint.ts";
import { encoderGraph, takesTokenTypes } from "../models/encoder-graph.ts";
import type { LoraSpec } from "../models/lora.ts";
import type { Graph } from "../tensor/graph.ts";
import { type ResolveOptions, resolveModel } from "../weights/hub.ts";
import { loraConfig, mergeLora, peftKey, writeLoraAdapter } from "../weights/peft.ts";
import { type Tensor, writeSafetensors } from "../weights/safetensors.ts";
import { dropoutMasks, inputDims, type ModelHead, selectTrainable, type TrainableSet } from "./model-head.ts";
import type { NamedArrays } from "./params.ts";

export interface EncoderHeadOptions {
  trainable: TrainableSet;
  /** Longest row in tokens (default: the model's max length). */
  maxLength?: number;
  /** Seed of the LoRA A initialisation. */
  seed?: number;
  hub?: ResolveOptions;
  prompts?: EncoderOptions["prompts"];
  warn?: (msg: string) => void;
}

export async function encoderHead(id: string, o: EncoderHeadOptions): Promise<ModelHead> {
  const dir = await resolveModel(id, o.hub);
  const m = prepareEncoder(id, dir, { prompts: o.prompts, warn: o.warn });
  const { ck, tok, settings } = m;
  const cfg = ck.config;
  try {
    if (cfg.family === "m2m100")
      throw new Error(
        `--model ${id} is an NLLB (m2m_100) encoder; fine-tune an NLLB-E5 folder from xlir distill, or a BERT / XLM-R retriever`,
      );
    const t = o.trainable;
    if (t.kind === "heads")
      throw new Error(`--trainable heads: ${id} has no heads of its own to train; use full, last:N or lora`);
    const { trainable, lora, loraTensors, dropout: withDropout } = selectTrainable(t, cfg, id, o.seed);
    const build = (dropout: boolean) => {
      const trainableData = new Map<string, Float32Array>();
      const graph = encoderGraph(ck, {
        pooling: settings.pooling,
        normalize: false,
        dense: settings.dense,
        train: { trainable, trainableData, lora: lora && { ...lora, dropout } },
      });
      return { graph, trainableData };
    };
    const first = build(withDropout);
    let plain: Graph | undefined;
    const params: NamedArrays = Object.fromEntries(first.trainableData);
    const dims = inputDims(first.graph, Object.keys(params));
    const tokenTypes = takesTokenTypes(ck);
    const maxLength = Math.min(o.maxLength ?? settings.maxLength, settings.maxLength);

    return {
      dim: m.dim,
      params,
      dims,
      describe: t.kind === "last" ? `last:${t.layers}` : t.kind,
      dropout: withDropout,
      graph: (dropout) => (dropout === withDropout ? first.graph : (plain ??= build(false).graph)),
      batch(texts, rng) {
        const rows: number[][] = [];
        for (const role of ["query", "passage"] as const) {
          const idx = texts.flatMap((x, i) => (x.role === role ? [i] : []));
          const r = tokenizeTexts(
            tok,
            settings,
            false,
            idx.map((i) => texts[i].text),
            { role, maxLength },
          ).rows;
          idx.forEach((i, k) => (rows[i] = r[k]));
        }
        const feeds = encoderFeeds(rows, tok.padId, tokenTypes);
        if (rng && t.kind === "lora") {
          const [n, seq] = feeds.input_ids.dims;
          Object.assign(feeds, dropoutMasks(first.graph, n, seq, t.dropout, rng));
        }
        return feeds;
      },
      save(out, values) {
        saveModelFolder(out, {
          dir,
          modelDir: m.modelDir,
          id,
          values,
          ck,
          lora,
          loraTensors,
          finish: (tmp) => writeSentenceTransformersFiles(tmp, settings),
        });
      },
      close: () => ck.close(),
    };
  } catch (e) {
    ck.close();
    throw e;
  }
}

/**
 * Writes a trained checkpoint folder into `out`: everything of the source folder `dir`, its
 * model.safetensors (in `modelDir`) with the trained values (LoRA merged, and kept as a PEFT adapter
 * in `adapter/`), then `finish` adds the model's own files. Built in a temp folder and moved in, so
 * a crash leaves `out` as it was.
 */
export function saveModelFolder(
  out: string,
  x: {
    dir: string;
    modelDir: string;
    id: string;
    values: NamedArrays;
    ck: Checkpoint;
    lora?: { spec: LoraSpec };
    loraTensors: Map<string, Tensor>;
    finish: (tmp: string) => void;
  },
): void {
  const tmp = join(out, `.export-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // everything of the source folder but its weights (symlinks of a hub cache copied as files)
  const sub = relative(x.dir, x.modelDir);
  cpSync(x.dir, tmp, {
    recursive: true,
    dereference: true,
    // not the weights we rewrite, nor a training run or export kept in the source folder
    filter: (src) => {
      const rel = relative(x.dir, src);
      return rel !== join(sub, "model.safetensors") && rel !== "training" && !rel.startsWith(".export-");
    },
  });
  const weights = new Map<string, Tensor>();
  const canonical = new Map<string, string>();
  for (const name of Object.keys(x.values)) {
    const key = name.includes(".lora_") ? undefined : x.ck.key(name);
    if (key) canonical.set(key, name);
  }
  for (const stored of x.ck.storedNames()) {
    const t = x.ck.readStored(stored);
    const name = canonical.get(stored);
    weights.set(stored, name ? { data: x.values[name], dims: t.dims } : t);
  }
  if (x.lora) {
    const { r, alpha, targets } = x.lora.spec;
    const pairs = new Map<string, { A: Tensor; B: Tensor }>();
    for (const k of x.loraTensors.keys())
      if (k.endsWith(".lora_A.weight")) {
        const mod = k.slice("base_model.model.".length, -".lora_A.weight".length);
        const at = (w: "A" | "B") => ({
          data: x.values[peftKey(mod, w)],
          dims: x.loraTensors.get(peftKey(mod, w))!.dims,
        });
        pairs.set(mod, { A: at("A"), B: at("B") });
      }
    for (const [mod, { A, B }] of pairs) {
      const key = x.ck.key(`${mod}.weight`)!;
      weights.set(key, mergeLora(weights.get(key)!, A, B, alpha / r));
    }
    writeLoraAdapter(join(tmp, "adapter"), {
      config: loraConfig({
        r,
        alpha,
        dropout: x.lora.spec.dropout,
        targetModules: targets,
        baseModel: x.id,
        taskType: "FEATURE_EXTRACTION",
      }),
      weights: pairs,
    });
  }
  writeSafetensors(join(tmp, sub, "model.safetensors"), weights, { metadata: { format: "pt" } });
  x.finish(tmp);
  for (const entry of readdirSync(tmp)) {
    rmSync(join(out, entry), { recursive: true, force: true });
    renameSync(join(tmp, entry), join(out, entry));
  }
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * A plain transformers folder becomes a sentence-transformers one (Transformer at the root, Pooling,
 * Normalize), and the prefixes the model was trained with are recorded as its prompts, so the
 * folder embeds the same way whatever it is called. A sentence-transformers source keeps its modules.
 */
function writeSentenceTransformersFiles(dir: string, s: EncoderSettings): void {
  const json = (f: string, v: unknown) => writeFileSync(join(dir, f), JSON.stringify(v, null, 2) + "\n");
  if (!existsSync(join(dir, "modules.json"))) {
    const modules = [
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
      ...(s.normalize
        ? [{ idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" }]
        : []),
    ];
    json("modules.json", modules);
    mkdirSync(join(dir, "1_Pooling"), { recursive: true });
    json(join("1_Pooling", "config.json"), {
      pooling_mode_cls_token: s.pooling === "cls",
      pooling_mode_mean_tokens: s.pooling === "mean",
      pooling_mode_max_tokens: s.pooling === "max",
    });
    if (s.normalize) mkdirSync(join(dir, "2_Normalize"), { recursive: true });
    json("sentence_bert_config.json", { max_seq_length: s.maxLength, do_lower_case: s.lowerCase });
  }
  json("config_sentence_transformers.json", {
    prompts: { query: s.prompts.query, passage: s.prompts.passage },
    default_prompt_name: null,
    similarity_fn_name: "cosine",
  });
}
