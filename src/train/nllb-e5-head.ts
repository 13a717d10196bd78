// The model head for NLLB-E5 folders written by `xlir distill`: the NLLB encoder stays frozen; the
// projection and LoRA on E5's query/key/value train (a folder whose LoRA was merged gets a fresh
// adapter on top of the merged weights, PEFT-initialised so training starts at the model as it
// is). The result is written back as an NLLB-E5 folder, LoRA merged.

import { join } from "node:path";
import { tensorSource } from "../models/checkpoint.ts";
import type { LoraSpec } from "../models/lora.ts";
import { studentBatch, studentFeeds, studentGraph } from "../models/nllb-e5.ts";
import { readNllbE5Folder, writeNllbE5Folder } from "../models/nllb-e5-folder.ts";
import type { Graph } from "../tensor/graph.ts";
import { nllbRow } from "../text/nllb-input.ts";
import { nllbLangTokenId } from "../text/nllb-langs.ts";
import { loadTokenizer } from "../text/tokenizer.ts";
import { dropoutMasks, freshLora, inputDims, type ModelHead, type TrainableSet } from "./model-head.ts";
import type { NamedArrays } from "./params.ts";

export async function nllbE5Head(
  dir: string,
  o: { trainable: TrainableSet; seed?: number; maxLength?: number },
): Promise<ModelHead> {
  const folder = readNllbE5Folder(dir);
  try {
    if (o.trainable.kind !== "lora")
      throw new Error(
        `${dir} is an NLLB-E5 folder: its projection and LoRA train (--trainable lora, the default for it), not ${o.trainable.kind}`,
      );
    const { parts, config } = folder;
    const dE = parts.e5Config.hidden;
    const tok = loadTokenizer(folder.tokenizerDir);
    const eos = tok.specialIds.eos ?? tok.tokenToId("</s>") ?? 2;
    const { r, alpha, dropout, targets } = o.trainable;
    const lora: LoraSpec = config.spec.lora ?? { r, alpha, dropout, targets };
    const spec = { ...config.spec, lora };
    parts.lora ??= tensorSource(
      freshLora(parts.e5Config.layers, dE, lora.r, lora.targets, o.seed ?? 42),
      "lora",
    );
    const trainable = (name: string) => name.startsWith("proj.") || name.includes(".lora_");
    const withDropout = lora.dropout > 0;
    const graphs = new Map<boolean, Graph>();
    const build = (dropout: boolean) => studentGraph(parts, spec, { trainable, dropout });
    const first = build(withDropout);
    graphs.set(withDropout, first.graph);
    const params: NamedArrays = Object.fromEntries(first.trainableData);
    const maxLength = Math.min(o.maxLength ?? spec.maxNllbTokens, spec.maxNllbTokens);

    return {
      dim: dE,
      params,
      dims: inputDims(first.graph, Object.keys(params)),
      describe: "projection+lora",
      dropout: withDropout,
      graph(dropout) {
        if (!graphs.has(dropout)) graphs.set(dropout, build(dropout).graph);
        return graphs.get(dropout)!;
      },
      batch(texts, rng) {
        const rows = texts.map(
          (t) =>
            nllbRow(tok.encodeText(t.text), nllbLangTokenId(tok, t.lang ?? "eng_Latn"), eos, maxLength).ids,
        );
        const sb = studentBatch(
          rows,
          texts.map((t) => t.role),
          spec,
          tok.padId,
        );
        const feeds = { ...studentFeeds(sb) };
        return rng
          ? { ...feeds, ...dropoutMasks(first.graph, sb.batch, sb.nllbSeq + 4, lora.dropout, rng) }
          : feeds;
      },
      save(out, values) {
        const named = (pick: (k: string) => boolean) =>
          new Map(
            Object.keys(values)
              .filter(pick)
              .map((k) => [k, { data: values[k], dims: inputDims(first.graph, [k])[k] }]),
          );
        writeNllbE5Folder(out, {
          nllbDir: join(dir, "nllb"),
          e5Dir: join(dir, "e5"),
          studentEncoder: config.student_encoder,
          teacher: config.teacher,
          spec,
          projection: named((k) => k.startsWith("proj.")),
          lora: named((k) => k.includes(".lora_")),
          merge: true,
          prefixes: config.prefixes,
        });
      },
      close: () => folder.close(),
    };
  } catch (e) {
    folder.close();
    throw e;
  }
}
